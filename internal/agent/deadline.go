package agent

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/agent/envknob"
)

// Every call to an agent has a deadline, so that a hung node (a stopped process, a frozen VM, a host that drops
// packets) ends the call with an *api.NodeNotAnsweringError instead of hanging its caller. A quick call must
// answer within the client's timeout. A long call — one that waits on purpose (cancel, a long poll) or streams
// (logs, process output) — cannot have a fixed deadline; it lives as long as the agent shows signs of life:
// whenever it has been silent for a timeout, the client asks GET /v1/health, which must answer within a timeout.

// callKind says which deadline a call gets.
type callKind int

const (
	quick callKind = iota // answers within the timeout
	long                  // waits or streams: watched by liveness checks instead
)

// Named labels the client's errors with the cluster and the rank of the node it talks to. Call it before the
// client is used.
func (c *Client) Named(cluster string, rank int) *Client {
	c.cluster, c.rank, c.named = cluster, rank, true
	return c
}

// WithTimeout sets the deadline of quick calls and the liveness check interval of long ones (0: the
// STIX_AGENT_TIMEOUT knob, default 10s). Call it before the client is used.
func (c *Client) WithTimeout(d time.Duration) *Client {
	c.timeout = d
	return c
}

func (c *Client) callTimeout() (time.Duration, error) {
	if c.timeout > 0 {
		return c.timeout, nil
	}
	return envknob.AgentTimeout.Get()
}

// inflight is one call on its way. Its context ends when the call's deadline passes or the agent fails a
// liveness check, with an *api.NodeNotAnsweringError as the cause.
type inflight struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	stop   func()
	last   atomic.Int64 // long calls: unix nanoseconds of the last byte received
}

// begin starts the deadline of a call.
func (c *Client) begin(ctx context.Context, kind callKind, op string) (*inflight, error) {
	d, err := c.callTimeout()
	if err != nil {
		return nil, err
	}
	f := &inflight{}
	f.ctx, f.cancel = context.WithCancelCause(ctx)
	notAnswering := func(waited time.Duration) error {
		e := &api.NodeNotAnsweringError{Cluster: c.cluster, Node: -1, Addr: c.addr(),
			Op: op, Waited: waited.Round(time.Millisecond)}
		if c.named {
			e.Node = c.rank
		}
		return e
	}
	if kind == quick {
		t := time.AfterFunc(d, func() { f.cancel(notAnswering(d)) })
		f.stop = func() { t.Stop() }
		return f, nil
	}
	f.touch()
	done := make(chan struct{})
	f.stop = sync.OnceFunc(func() { close(done) })
	go f.watch(c, d, notAnswering, done)
	return f, nil
}

func (f *inflight) touch() { f.last.Store(time.Now().UnixNano()) }

// watch checks the agent's liveness whenever the call has received nothing for d, until done is closed.
func (f *inflight) watch(c *Client, d time.Duration, notAnswering func(time.Duration) error, done <-chan struct{}) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-f.ctx.Done():
			return
		case <-t.C:
		}
		silent := time.Since(time.Unix(0, f.last.Load()))
		if silent < d {
			continue
		}
		if _, err := c.Health(f.ctx); err != nil && f.ctx.Err() == nil {
			f.cancel(notAnswering(time.Since(time.Unix(0, f.last.Load()))))
			return
		}
	}
}

// end stops the call's deadline and returns err, or the *api.NodeNotAnsweringError that ended the call.
func (f *inflight) end(err error) error {
	f.stop()
	if err != nil && f.ctx.Err() != nil {
		var na *api.NodeNotAnsweringError
		if errors.As(context.Cause(f.ctx), &na) {
			err = na
		}
	}
	f.cancel(nil)
	return err
}

// progress counts a long call's received bytes as signs of life.
type progress struct {
	io.ReadCloser
	f *inflight
}

func (p progress) Read(b []byte) (int, error) {
	n, err := p.ReadCloser.Read(b)
	if n > 0 {
		p.f.touch()
	}
	return n, err
}
