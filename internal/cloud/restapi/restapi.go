// Package restapi is the part of a cloud's JSON REST client that Lambda and RunPod share: a base URL that an
// environment variable may override, an API key sent as a bearer token, the request a call sends (also what the
// head of an autodown cluster sends, cloud.HTTPRequest), and one call with a deadline and a bounded answer. Each
// cloud decodes its own answers and errors.
package restapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/cloud"
)

// CallTimeout bounds one API call.
const CallTimeout = 60 * time.Second

// maxAnswer bounds the answer read from one call.
const maxAnswer = 16 << 20

// maxMessage bounds an error message quoted from an answer.
const maxMessage = 300

// Client calls a REST API with an API key.
type Client struct {
	// Base is the URL that every path is under, without a trailing slash.
	Base string
	// Key is the API key, sent as `Authorization: Bearer KEY`.
	Key  string
	http *http.Client
}

// New returns a client of the API at base with key.
func New(base, key string) *Client {
	return &Client{Base: base, Key: key, http: &http.Client{}}
}

// Endpoint is the base URL in the environment variable env, without a trailing slash, or def when it is empty.
func Endpoint(env, def string) string {
	if base := strings.TrimRight(os.Getenv(env), "/"); base != "" {
		return base
	}
	return def
}

// Request describes the call of method path with body (JSON when not nil), with the API key.
func (c *Client) Request(method, path string, body any) (cloud.HTTPRequest, error) {
	r := cloud.HTTPRequest{Method: method, URL: c.Base + path, Header: map[string]string{"Authorization": "Bearer " + c.Key}}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return r, err
		}
		r.Body, r.Header["Content-Type"] = string(b), "application/json"
	}
	return r, nil
}

// Call calls method path with body (JSON when not nil) within CallTimeout and returns the answer's status and
// body (its first 16 MiB).
func (c *Client) Call(ctx context.Context, method, path string, body any) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	r, err := c.Request(method, path, body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, strings.NewReader(r.Body))
	if err != nil {
		return 0, nil, err
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, data, nil
}

// Cut is msg cut to 300 bytes: an answer quoted in an error.
func Cut(msg string) string {
	if len(msg) > maxMessage {
		return msg[:maxMessage]
	}
	return msg
}

// Unanswered is the error of the call that did op in place and got no answer (err is no error of the API's): the
// wrapped err when the call was cancelled or ran out of time, else a capacity error of the whole cloud named
// cloudName, whose API (apiName, e.g. "Lambda's API") is unreachable, so that another cloud may be tried.
func Unanswered(cloudName, apiName, op string, place cloud.Place, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s in %s: %w", op, place, err)
	}
	return &cloud.CapacityError{Place: cloud.Place{Cloud: cloudName}, Reason: op + ": " + apiName + " is unreachable", Err: err}
}
