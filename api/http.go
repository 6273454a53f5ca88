package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HTTPOptions configure an HTTPClient.
type HTTPOptions struct {
	// Endpoint is the server's URL, e.g. http://127.0.0.1:46580.
	Endpoint string
	// Token, when set, is sent as a bearer token. A user name and password in Endpoint
	// (http://USER:PASSWORD@host) are sent as HTTP basic auth instead, when there is no token.
	Token string
	// User names the caller (sent as X-Stix-User) until the server authenticates users; the CLI sends its OS user.
	User string
	// HTTP is the client used; http.DefaultClient when nil.
	HTTP *http.Client
}

// HTTPClient is the implementation of Client over a `stix api` server: reads are calls that answer, each call
// that changes something submits a request and its Operation follows the request's event stream. It also
// reaches the requests themselves (Requests, CancelRequests, RequestEvents). It is safe for concurrent use.
type HTTPClient struct {
	base  string
	token string
	user  string
	basic *url.Userinfo // from the endpoint's URL; never in base, which is shown
	hc    *http.Client
}

var _ Client = (*HTTPClient)(nil)

// NewHTTP returns a client of the server at opts.Endpoint.
func NewHTTP(opts HTTPOptions) (*HTTPClient, error) {
	u, err := url.Parse(strings.TrimRight(opts.Endpoint, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("API server endpoint %q: want a URL such as http://127.0.0.1:46580", opts.Endpoint)
	}
	hc := opts.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	basic := u.User
	u.User = nil
	return &HTTPClient{base: u.String(), token: opts.Token, user: opts.User, basic: basic, hc: hc}, nil
}

// Endpoint returns the server's URL.
func (c *HTTPClient) Endpoint() string { return c.base }

// Close releases nothing: the connections are the http.Client's.
func (c *HTTPClient) Close() error { return nil }

// newRequest builds a request to path (with query) carrying body as JSON.
func (c *HTTPClient) newRequest(ctx context.Context, method, path string, q url.Values, body any) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.setAuth(req)
	return req, nil
}

// send makes the call and returns the response when it is a success; otherwise the server's error, rebuilt.
func (c *HTTPClient) send(ctx context.Context, method, path string, q url.Values, body any) (*http.Response, error) {
	req, err := c.newRequest(ctx, method, path, q, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("API server %s: %w (is it running? `stix api info`)", c.base, err)
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, answered{responseError(resp)}
}

// answered marks an error the server answered with: following a request again would get it again.
type answered struct{ error }

func (a answered) Unwrap() error { return a.error }

// responseError reads an error response: the server's api.Error, or the status and text of anything else.
func responseError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var e Error
	if json.Unmarshal(b, &e) == nil && e.Code != "" {
		e.Status = resp.StatusCode
		return e.Err()
	}
	return &Error{Code: CodeFailed, Status: resp.StatusCode,
		Message: fmt.Sprintf("API server answered %s: %s", resp.Status, strings.TrimSpace(string(b)))}
}

// call makes a call and decodes its JSON answer into out (when not nil).
func (c *HTTPClient) call(ctx context.Context, method, path string, q url.Values, body, out any) error {
	resp, err := c.send(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("API server %s %s: bad answer: %w", method, path, err)
	}
	return nil
}

// submit starts a request and returns its Operation, which follows the request's events.
func submit[T any](ctx context.Context, c *HTTPClient, path string, body any) (*Operation[T], error) {
	var s Submitted
	if err := c.call(ctx, http.MethodPost, path, nil, body, &s); err != nil {
		return nil, err
	}
	return Go(ctx, s.ID, func(ctx context.Context, emit func(Event)) (T, error) {
		var zero T
		q, err := c.FollowRequest(ctx, s.ID, func(e Event) { emit(e) })
		if err != nil {
			return zero, err
		}
		if q.Error != nil {
			return zero, q.Error.Err()
		}
		var res T
		if len(q.Result) > 0 {
			if err := json.Unmarshal(q.Result, &res); err != nil {
				return zero, fmt.Errorf("request %s: bad result: %w", s.ID, err)
			}
		}
		return res, nil
	}), nil
}

// reconnects bounds how many times in a row a dropped stream is resumed.
const reconnects = 5

// FollowRequest reads a request's events until it ends, resuming from the last event after a dropped
// connection, and returns the request as it ended. When ctx ends first it returns *DetachedError: the request
// goes on on the server.
func (c *HTTPClient) FollowRequest(ctx context.Context, id string, onEvent func(Event)) (Request, error) {
	offset, failures := 0, 0
	for {
		done, err := c.requestEvents(ctx, id, offset, true, func(l StreamLine) {
			onEvent(*l.Event)
			offset = l.Seq + 1
			failures = 0
		})
		switch {
		case done != nil:
			return *done, nil
		case ctx.Err() != nil:
			return Request{}, &DetachedError{ID: id}
		case errors.As(err, new(answered)):
			return Request{}, err
		}
		if failures++; failures > reconnects {
			return Request{}, fmt.Errorf("request %s: lost the API server's stream: %v", id, err)
		}
		select { // the server may be restarting: back off a little before resuming
		case <-time.After(time.Duration(failures) * 200 * time.Millisecond):
		case <-ctx.Done():
			return Request{}, &DetachedError{ID: id}
		}
	}
}

// requestEvents reads one stream of a request's events from offset; it returns the request when the stream
// reached its end.
func (c *HTTPClient) requestEvents(ctx context.Context, id string, offset int, follow bool, line func(StreamLine)) (*Request, error) {
	q := url.Values{"offset": {strconv.Itoa(offset)}, "follow": {strconv.FormatBool(follow)}}
	resp, err := c.send(ctx, http.MethodGet, "/api/v1/requests/"+url.PathEscape(id)+"/events", q, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 2*MaxTaskBytes)
	for sc.Scan() {
		var l StreamLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("request %s: bad stream line: %w", id, err)
		}
		if l.Done != nil {
			return l.Done, nil
		}
		if l.Event != nil {
			line(l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !follow {
		return nil, nil
	}
	return nil, io.ErrUnexpectedEOF
}

// RequestEvents returns a request's events recorded so far from offset, and the request when it has ended.
func (c *HTTPClient) RequestEvents(ctx context.Context, id string, offset int) ([]StreamLine, *Request, error) {
	var out []StreamLine
	done, err := c.requestEvents(ctx, id, offset, false, func(l StreamLine) { out = append(out, l) })
	return out, done, err
}

// Request returns one request (id may be a unique prefix of its ID).
func (c *HTTPClient) Request(ctx context.Context, id string) (Request, error) {
	var q Request
	err := c.call(ctx, http.MethodGet, "/api/v1/requests/"+url.PathEscape(id), nil, nil, &q)
	return q, err
}

// Requests lists requests, newest first.
func (c *HTTPClient) Requests(ctx context.Context, f RequestFilter) ([]Request, error) {
	q := url.Values{"prefix": f.IDPrefixes}
	if f.All {
		q.Set("all", "true")
	}
	if f.AllUsers {
		q.Set("all_users", "true")
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.Offset > 0 {
		q.Set("offset", strconv.Itoa(f.Offset))
	}
	for k, v := range map[string]string{"status": string(f.Status), "q": f.Search, "sort": f.Sort} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Desc {
		q.Set("desc", "true")
	}
	var out []Request
	err := c.call(ctx, http.MethodGet, "/api/v1/requests", q, nil, &out)
	return out, err
}

// CancelRequests cancels requests by ID (or unique prefix), or all of the caller's in flight (all), or every
// user's (allUsers); it returns the IDs of those that were in flight.
func (c *HTTPClient) CancelRequests(ctx context.Context, ids []string, all, allUsers bool) ([]string, error) {
	body := struct {
		IDs      []string `json:"request_ids,omitempty"`
		All      bool     `json:"all,omitempty"`
		AllUsers bool     `json:"all_users,omitempty"`
	}{ids, all, allUsers}
	var out []string
	err := c.call(ctx, http.MethodPost, "/api/v1/requests/cancel", nil, body, &out)
	return out, err
}

// Health returns the server's /api/health.
func (c *HTTPClient) Health(ctx context.Context) (Health, error) {
	var h Health
	err := c.call(ctx, http.MethodGet, "/api/health", nil, nil, &h)
	return h, err
}

// ServerLogs writes the server's log (its last tail lines; all when tail is 0) to w.
func (c *HTTPClient) ServerLogs(ctx context.Context, tail int, w io.Writer) error {
	resp, err := c.send(ctx, http.MethodGet, "/api/v1/server/logs", url.Values{"tail": {strconv.Itoa(tail)}}, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	return err
}
