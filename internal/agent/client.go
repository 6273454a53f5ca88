package agent

import (
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

	"github.com/stix-run/stix/internal/agent/envknob"
)

// Client talks to one agent. It keeps its connections alive between calls (one transport per client), which is
// what keeps `stix exec -d` within its latency budget. Safe for concurrent use.
type Client struct {
	base   string
	auth   string
	hc     *http.Client
	closer func()

	tls     *tls.Config   // WithTLS; nil speaks plain HTTP
	cluster string        // WithNode: names the node in errors (deadline.go)
	rank    int           // WithNode; -1 when not known
	timeout time.Duration // WithTimeout, or STIX_AGENT_TIMEOUT
}

// ClientOption configures a Client as NewClient makes it.
type ClientOption func(*Client)

// WithTLS makes the client speak TLS with cfg (agenttls.ClientConfig: trusting the cluster's CA only); nil
// keeps plain HTTP, for agents that serve no certificate.
func WithTLS(cfg *tls.Config) ClientOption {
	return func(c *Client) {
		if cfg != nil {
			c.tls = cfg.Clone()
		}
	}
}

// WithNode labels the client's errors with the cluster and the rank of the node it talks to.
func WithNode(cluster string, rank int) ClientOption {
	return func(c *Client) { c.cluster, c.rank = cluster, rank }
}

// WithTimeout sets the deadline of quick calls and the liveness check interval of long ones (deadline.go);
// d ≤ 0 keeps the STIX_AGENT_TIMEOUT knob.
func WithTimeout(d time.Duration) ClientOption {
	return func(c *Client) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// NewClient returns a client for the agent at addr (host:port) that authenticates with the cluster secret. dial
// opens the connection: nil dials TCP directly; an SSH, docker or Kubernetes transport passes its own tunnel.
// Without WithTimeout, the timeout is STIX_AGENT_TIMEOUT, read here once; a bad value falls back to the default
// (the CLI and the agent reject one as they start: cluster.New, stix-agent serve).
func NewClient(addr, secret string, dial func(ctx context.Context, network, addr string) (net.Conn, error), opts ...ClientOption) *Client {
	c := &Client{auth: "Bearer " + secret, rank: -1}
	for _, o := range opts {
		o(c)
	}
	if c.timeout <= 0 {
		d, err := envknob.AgentTimeout.Get()
		if err != nil {
			d = envknob.AgentTimeout.Default
		}
		c.timeout = d
	}
	if dial == nil {
		d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
		dial = d.DialContext
	}
	tr := &http.Transport{
		DialContext:         dial,
		TLSClientConfig:     c.tls,
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // logs stream; compression would hold bytes back
	}
	c.base = "http://" + addr
	if c.tls != nil {
		c.base = "https://" + addr
	}
	c.hc, c.closer = &http.Client{Transport: tr}, tr.CloseIdleConnections
	return c
}

// addr is the agent's host:port, as errors name it.
func (c *Client) addr() string { return c.base[strings.Index(c.base, "//")+2:] }

// Close drops the client's idle connections.
func (c *Client) Close() { c.closer() }

// request sends a request under the deadline of its kind and returns the response of a 2xx status, whose body
// must be read before the call is ended with f.end; other statuses become *APIError.
func (c *Client) request(ctx context.Context, kind callKind, method, path string, query url.Values, in any) (resp *http.Response, f *inflight, err error) {
	var b []byte
	if in != nil {
		if b, err = json.Marshal(in); err != nil {
			return nil, nil, err
		}
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	f = c.begin(ctx, kind, method+" "+path)
	var body io.Reader
	if in != nil {
		body = f.sending(b)
	}
	req, err := http.NewRequestWithContext(f.ctx, method, u, body)
	if err != nil {
		return nil, nil, f.end(err)
	}
	if in != nil {
		// A body that is not a *bytes.Reader leaves these to the caller: without them the request goes chunked
		// and cannot be sent again on a fresh connection.
		req.ContentLength = int64(len(b))
		req.GetBody = func() (io.ReadCloser, error) { return f.sending(b), nil }
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
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(msg, &eb) != nil || eb.Error == "" {
		eb.Error = strings.TrimSpace(string(msg))
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

// Shutdown ends the agent's node for autostop (ShutdownRequest); the agent answers before it exits.
func (c *Client) Shutdown(ctx context.Context, req ShutdownRequest) error {
	return c.call(ctx, quick, http.MethodPost, "/v1/shutdown", nil, req, nil)
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
