package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client talks to one agent. It keeps its connections alive between calls (one transport per client), which is
// what keeps `stix exec -d` within its latency budget. Safe for concurrent use.
type Client struct {
	base   string
	auth   string
	hc     *http.Client
	closer func()

	// Set before use (deadline.go): the node's name in errors, the call timeout.
	cluster string
	rank    int
	named   bool
	timeout time.Duration
}

// ClientOption changes how a Client reaches its agent.
type ClientOption func(*http.Transport)

// WithTLS makes the client speak TLS with cfg (agenttls.ClientConfig: trusting the cluster's CA only); nil
// keeps plain HTTP, for agents that serve no certificate.
func WithTLS(cfg *tls.Config) ClientOption {
	return func(tr *http.Transport) {
		if cfg != nil {
			tr.TLSClientConfig = cfg.Clone()
		}
	}
}

// NewClient returns a client for the agent at addr (host:port) that authenticates with the cluster secret. dial
// opens the connection: nil dials TCP directly; an SSH, docker or Kubernetes transport passes its own tunnel.
func NewClient(addr, secret string, dial func(ctx context.Context, network, addr string) (net.Conn, error), opts ...ClientOption) *Client {
	if dial == nil {
		d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
		dial = d.DialContext
	}
	tr := &http.Transport{
		DialContext:         dial,
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // logs stream; compression would hold bytes back
	}
	scheme := "http://"
	for _, o := range opts {
		o(tr)
	}
	if tr.TLSClientConfig != nil {
		scheme = "https://"
	}
	return &Client{base: scheme + addr, auth: "Bearer " + secret, hc: &http.Client{Transport: tr},
		closer: tr.CloseIdleConnections}
}

// addr is the agent's host:port, as errors name it.
func (c *Client) addr() string { return c.base[strings.Index(c.base, "//")+2:] }

// Close drops the client's idle connections.
func (c *Client) Close() { c.closer() }

// request sends a request under the deadline of its kind and returns the response of a 2xx status, whose body
// must be read before the call is ended with f.end; other statuses become *APIError.
func (c *Client) request(ctx context.Context, kind callKind, method, path string, query url.Values, in any) (resp *http.Response, f *inflight, err error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, nil, err
		}
		body = bytes.NewReader(b)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	if f, err = c.begin(ctx, kind, method+" "+path); err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(f.ctx, method, u, body)
	if err != nil {
		return nil, nil, f.end(err)
	}
	req.Header.Set("Authorization", c.auth)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err = c.hc.Do(req)
	if err != nil {
		return nil, nil, f.end(fmt.Errorf("agent %s: %s %s: %w", c.addr(), method, path, err))
	}
	if resp.StatusCode/100 == 2 {
		resp.Body = progress{resp.Body, f}
		return resp, f, nil
	}
	defer resp.Body.Close()
	var eb errorBody
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
		eb.Error = strings.TrimSpace(string(b))
		if eb.Error == "" {
			eb.Error = resp.Status
		}
	}
	return nil, nil, f.end(&APIError{StatusCode: resp.StatusCode, Message: eb.Error})
}

// call sends a JSON request and decodes the JSON answer into out (when not nil).
func (c *Client) call(ctx context.Context, kind callKind, method, path string, query url.Values, in, out any) error {
	resp, f, err := c.request(ctx, kind, method, path, query, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body) // so the connection is reused
	} else if err = json.NewDecoder(resp.Body).Decode(out); err != nil {
		err = fmt.Errorf("agent %s: decode %s answer: %w", c.base, path, err)
	}
	return f.end(err)
}

// stream copies a streaming answer to w and returns the number of bytes copied, and the job status trailer.
func (c *Client) stream(ctx context.Context, path string, query url.Values, w io.Writer) (int64, string, error) {
	resp, f, err := c.request(ctx, long, http.MethodGet, path, query, nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	return n, resp.Trailer.Get(JobStatusTrailer), f.end(err)
}

// Health returns the agent's version, process and node resources.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	return h, c.call(ctx, quick, http.MethodGet, "/v1/health", nil, nil, &h)
}

// Configure makes the agent the head of the described cluster (again, with new values).
func (c *Client) Configure(ctx context.Context, cfg ClusterConfig) error {
	return c.call(ctx, long, http.MethodPost, "/v1/cluster", nil, cfg, nil)
}

// Submit queues a job and returns its id.
func (c *Client) Submit(ctx context.Context, spec JobSpec) (int64, error) {
	var r SubmitResponse
	return r.JobID, c.call(ctx, quick, http.MethodPost, "/v1/jobs", nil, spec, &r)
}

// Jobs lists jobs, newest first.
func (c *Client) Jobs(ctx context.Context, q JobsQuery) ([]Job, error) {
	v := url.Values{}
	if q.SkipFinished {
		v.Set("skip_finished", "1")
	}
	if q.User != "" {
		v.Set("user", q.User)
	}
	var jobs []Job
	return jobs, c.call(ctx, quick, http.MethodGet, "/v1/jobs", v, nil, &jobs)
}

// Job returns one job; errors.Is(err, ErrNotFound) when there is none.
func (c *Client) Job(ctx context.Context, id int64) (Job, error) {
	var j Job
	return j, c.call(ctx, quick, http.MethodGet, "/v1/jobs/"+strconv.FormatInt(id, 10), nil, nil, &j)
}

// Cancel cancels jobs and reports what happened to each; it returns when their processes are gone.
func (c *Client) Cancel(ctx context.Context, req CancelRequest) (CancelResult, error) {
	var r CancelResult
	return r, c.call(ctx, long, http.MethodPost, "/v1/jobs/cancel", nil, req, &r)
}

// Logs writes a job's combined log to w: the last tail lines (all when tail ≤ 0) and, with follow, what comes
// until the job has finished. It returns the job's status as the stream ended ("" when the agent could not
// say): after a follow, the final status, even if the agent is gone a moment later.
func (c *Client) Logs(ctx context.Context, id int64, follow bool, tail int, w io.Writer) (JobStatus, error) {
	v := url.Values{}
	if follow {
		v.Set("follow", "1")
	}
	if tail > 0 {
		v.Set("tail", strconv.Itoa(tail))
	}
	_, status, err := c.stream(ctx, "/v1/jobs/"+strconv.FormatInt(id, 10)+"/logs", v, w)
	if err != nil {
		return "", err
	}
	return JobStatus(status), nil
}

// SetAutostop changes the autostop setting and returns the timer's state.
func (c *Client) SetAutostop(ctx context.Context, req AutostopRequest) (AutostopStatus, error) {
	var s AutostopStatus
	return s, c.call(ctx, quick, http.MethodPost, "/v1/autostop", nil, req, &s)
}

// Autostop returns the autostop setting and the timer's state.
func (c *Client) Autostop(ctx context.Context) (AutostopStatus, error) {
	var s AutostopStatus
	return s, c.call(ctx, quick, http.MethodGet, "/v1/autostop", nil, nil, &s)
}

// StartProc starts a job process on the agent's node (or returns the one with the same id).
func (c *Client) StartProc(ctx context.Context, spec ProcSpec) (ProcStatus, error) {
	var s ProcStatus
	return s, c.call(ctx, quick, http.MethodPost, "/v1/procs", nil, spec, &s)
}

// Proc returns a process's status; with wait it blocks until the process has ended.
func (c *Client) Proc(ctx context.Context, id string, wait bool) (ProcStatus, error) {
	v := url.Values{}
	if wait {
		v.Set("wait", "1")
	}
	kind := quick
	if wait {
		kind = long
	}
	var s ProcStatus
	return s, c.call(ctx, kind, http.MethodGet, "/v1/procs/"+url.PathEscape(id), v, nil, &s)
}

// SignalProc sends TERM, KILL or INT to a process's group.
func (c *Client) SignalProc(ctx context.Context, id, sig string) error {
	return c.call(ctx, quick, http.MethodPost, "/v1/procs/"+url.PathEscape(id)+"/signal", nil, SignalRequest{Signal: sig}, nil)
}

// ProcOutput copies a process's output from offset to w (following until the process has ended when follow is
// set) and returns the offset reached, also when it fails part way.
func (c *Client) ProcOutput(ctx context.Context, id string, offset int64, follow bool, w io.Writer) (int64, error) {
	v := url.Values{"offset": {strconv.FormatInt(offset, 10)}}
	if follow {
		v.Set("follow", "1")
	}
	n, _, err := c.stream(ctx, "/v1/procs/"+url.PathEscape(id)+"/output", v, w)
	return offset + n, err
}

// ReleaseProc deletes an ended process's files on its node.
func (c *Client) ReleaseProc(ctx context.Context, id string) error {
	return c.call(ctx, quick, http.MethodDelete, "/v1/procs/"+url.PathEscape(id), nil, nil, nil)
}
