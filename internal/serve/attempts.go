package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// transportCloser is the part of *http.Transport a backend needs.
type transportCloser interface {
	http.RoundTripper
	CloseIdleConnections()
}

// newTransport is one replica's connection pool. Keep-alive connections, many of them: the load balancer is
// every client's one client. Compression is left alone so bodies pass through as the replica wrote them.
func (lb *LoadBalancer) newTransport() transportCloser {
	d := &net.Dialer{Timeout: lb.opts.ConnectTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           d.DialContext,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: lb.opts.StreamTimeout,
		DisableCompression:    true,
	}
}

// attempts is the proxy's transport: it picks a replica for each attempt and moves on to another when the
// attempt fails before any response (connection refused or reset, no headers within the stream timeout).
type attempts struct{ lb *LoadBalancer }

// errReplayLost marks a body that cannot be sent again (it streamed and part of it went to a failed replica).
var errReplayLost = errors.New("the request body was partly sent and cannot be sent again")

func (a *attempts) RoundTrip(req *http.Request) (*http.Response, error) {
	lb := a.lb
	body, err := newReplayable(req)
	if err != nil {
		return nil, err
	}
	var tried []*backend
	var last error
	for len(tried) < lb.opts.MaxAttempts {
		snap := lb.current.Load()
		b := snap.pick(tried, lb.opts.Now)
		if b == nil {
			break
		}
		tried = append(tried, b)
		resp, err := a.try(b, req, body)
		if err == nil {
			return resp, nil
		}
		last = err
		lb.opts.Log.Warn("attempt failed", "service", lb.opts.Service, "replica", b.ID, "url", b.URL, "attempt", len(tried), "err", err)
		if isConnectError(err) {
			b.ejectedUntil.Store(lb.opts.Now().Add(lb.opts.EjectFor).UnixNano())
		}
		if req.Context().Err() != nil || !body.replayable() {
			return nil, err
		}
	}
	if last == nil {
		return nil, ErrNoReplicas
	}
	return nil, fmt.Errorf("max retries %d exceeded; last error: %w", len(tried), last)
}

// try sends one attempt to b. On success the response body carries the attempt's cleanup: the load count, the
// stream timeout's timer and the attempt's context end when the proxy closes it.
func (a *attempts) try(b *backend, req *http.Request, body *replayable) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	out := req.WithContext(ctx)
	u := *req.URL
	u.Scheme, u.Host = b.scheme, b.host
	out.URL = &u
	out.Body, out.GetBody = body.attempt()
	b.load.Add(1)
	resp, err := b.transport.RoundTrip(out)
	if err != nil {
		cancel()
		a.release(b)
		return nil, err
	}
	if rwc, ok := resp.Body.(io.ReadWriteCloser); ok && resp.StatusCode == http.StatusSwitchingProtocols {
		// An upgraded connection (WebSocket) is long-lived and two-way: no stream timeout, and the proxy needs
		// to write to it.
		resp.Body = &upgradedBody{ReadWriteCloser: rwc, done: func() { cancel(); a.release(b) }}
		return resp, nil
	}
	if b.ejectedUntil.Load() != 0 {
		b.ejectedUntil.Store(0) // it answers again
	}
	timeout := a.lb.opts.StreamTimeout
	rb := &releaseBody{rc: resp.Body, timeout: timeout}
	rb.done = func() {
		rb.timer.Stop()
		cancel()
		a.release(b)
	}
	// Each chunk must come within the stream timeout: cancelling the attempt's context ends a stalled body.
	rb.timer = time.AfterFunc(timeout, cancel)
	resp.Body = rb
	return resp, nil
}

// release ends one request's hold on b; the last request of a removed replica closes its idle connections.
func (a *attempts) release(b *backend) {
	if b.load.Add(-1) == 0 && b.removed.Load() {
		b.transport.CloseIdleConnections()
	}
}

// isConnectError reports a failure to reach the replica at all: worth passing it over for a while.
func isConnectError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// releaseBody is a replica's response body as the proxy reads it.
type releaseBody struct {
	rc      io.ReadCloser
	timeout time.Duration
	timer   *time.Timer
	done    func()
	once    sync.Once
}

func (r *releaseBody) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.timer.Reset(r.timeout)
	return n, err
}

func (r *releaseBody) Close() error {
	err := r.rc.Close()
	r.once.Do(r.done)
	return err
}

// upgradedBody is an upgraded connection, released when the proxy closes it.
type upgradedBody struct {
	io.ReadWriteCloser
	done func()
	once sync.Once
}

func (u *upgradedBody) Close() error {
	err := u.ReadWriteCloser.Close()
	u.once.Do(u.done)
	return err
}

// replayable is a request body that more than one attempt may send. A small body (up to maxBufferedBody, sized
// or chunked) is read once into memory, so a failed attempt is always sent again; a larger one streams through,
// and can be sent again only if the failed attempt read none of it. (Whether a replica that reset the
// connection had read some of a streamed body is a race, so small bodies must not depend on it.)
type replayable struct {
	buf    []byte // the whole body, when small and sized
	src    io.ReadCloser
	stream *countingBody // the current attempt's reader of src
}

func newReplayable(req *http.Request) (*replayable, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return &replayable{}, nil
	}
	if req.ContentLength > 0 && req.ContentLength <= maxBufferedBody {
		buf := make([]byte, req.ContentLength)
		if _, err := io.ReadFull(req.Body, buf); err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		return &replayable{buf: buf}, nil
	}
	if req.ContentLength > 0 {
		return &replayable{src: req.Body}, nil
	}
	// Unknown length: keep it if it ends within the limit, else stream what was read and the rest.
	head, err := io.ReadAll(io.LimitReader(req.Body, maxBufferedBody+1))
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if len(head) <= maxBufferedBody {
		return &replayable{buf: head}, nil
	}
	return &replayable{src: struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), req.Body), req.Body}}, nil
}

// attempt returns the body (and GetBody) for the next attempt; the previous attempt's reader is cut off.
func (r *replayable) attempt() (io.ReadCloser, func() (io.ReadCloser, error)) {
	switch {
	case r.buf != nil:
		get := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(r.buf)), nil }
		body, _ := get()
		return body, get
	case r.src != nil:
		if r.stream != nil {
			r.stream.detached.Store(true)
		}
		r.stream = &countingBody{src: r.src}
		return r.stream, nil
	}
	return nil, nil
}

func (r *replayable) replayable() bool {
	return r.src == nil || r.stream == nil || r.stream.n.Load() == 0
}

// countingBody reads the inbound body for one attempt, counting what it took. Closing it leaves the inbound
// body open for the next attempt (the server closes that one).
type countingBody struct {
	src      io.Reader
	n        atomic.Int64
	detached atomic.Bool
}

func (c *countingBody) Read(p []byte) (int, error) {
	if c.detached.Load() {
		return 0, errReplayLost
	}
	n, err := c.src.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingBody) Close() error { return nil }
