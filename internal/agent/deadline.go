package agent

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stix-run/stix/api"
)

// Every call to an agent has a deadline, so that a hung node (a stopped process, a frozen VM, a host that drops
// packets) ends the call with an *api.NodeNotAnsweringError instead of hanging its caller. Progress counts in
// either direction: a byte of the request sent or a byte of the answer received, so that an upload over a slow
// tunnel (a job spec of megabytes) is not taken for a hung node. A quick call must make progress within every
// timeout (the client's). A long call — one that waits on purpose (cancel, a long poll) or streams (logs, process
// output) — cannot: whenever it has been silent for a timeout, the client asks GET /v1/health, which must answer
// within a timeout, and the call goes on as long as it does.

// callKind says which deadline a call gets.
type callKind int

const (
	quick callKind = iota // makes progress within the timeout
	long                  // waits or streams: watched by liveness checks instead
)

// inflight is one call on its way. Its context ends when the call has made no progress for the timeout (quick)
// or the agent fails a liveness check (long), with an *api.NodeNotAnsweringError as the cause.
type inflight struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	stop   func()
	last   atomic.Int64 // unix nanoseconds of the last byte sent or received
}

// begin starts the deadline of a call.
func (c *Client) begin(ctx context.Context, kind callKind, op string) *inflight {
	f := &inflight{}
	f.ctx, f.cancel = context.WithCancelCause(ctx)
	notAnswering := func(waited time.Duration) error {
		return &api.NodeNotAnsweringError{Cluster: c.cluster, Node: c.rank, Addr: c.addr(),
			Op: op, Waited: waited.Round(time.Millisecond)}
	}
	// onSilence says whether the call ends, having made no progress for quiet.
	onSilence := func(quiet time.Duration) bool {
		if kind == quick {
			f.cancel(notAnswering(c.timeout)) // the deadline it missed, as the error says
			return true
		}
		if _, err := c.Health(f.ctx); err != nil && f.ctx.Err() == nil {
			f.cancel(notAnswering(quiet))
			return true
		}
		return false
	}
	f.touch()
	done := make(chan struct{})
	f.stop = sync.OnceFunc(func() { close(done) })
	go f.watch(c.timeout, onSilence, done)
	return f
}

func (f *inflight) touch() { f.last.Store(time.Now().UnixNano()) }

// watch calls onSilence whenever the call has made no progress for d, until onSilence ends the call or done is
// closed.
func (f *inflight) watch(d time.Duration, onSilence func(quiet time.Duration) bool, done <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-f.ctx.Done():
			return
		case <-t.C:
		}
		quiet := time.Since(time.Unix(0, f.last.Load()))
		if quiet < d {
			t.Reset(d - quiet)
			continue
		}
		if onSilence(quiet) {
			return
		}
		t.Reset(d)
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

// sending returns the request body b as a reader whose reads count as the call's progress.
func (f *inflight) sending(b []byte) io.ReadCloser {
	return progress{io.NopCloser(bytes.NewReader(b)), f}
}

// progress counts the bytes a call sends or receives as signs of life.
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
