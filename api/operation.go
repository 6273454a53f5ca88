package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
)

// EventType says what an Event reports.
type EventType string

// Event types.
const (
	// EventStep begins a step of the operation ("Launching on Local"); the step before it ended well.
	EventStep EventType = "step"
	// EventStepFailed ends the running step in failure: Error says why, Msg what failed and what happens next.
	EventStepFailed EventType = "step_failed"
	// EventHost reports the outcome of one host of `ssh up` or `ssh down` (Host is set).
	EventHost EventType = "host"
)

// Event is one thing a long operation reports while it runs.
type Event struct {
	Type  EventType      `json:"type"`
	Msg   string         `json:"msg,omitempty"`
	Error string         `json:"error,omitempty"`
	Host  *SSHHostResult `json:"host,omitempty"`
}

// Operation is a long request in flight: the events it reports, in order, then its outcome. Read Events until
// it is closed and then call Wait, or call Wait alone (it discards the events not read). Cancelling the
// context given to the call that started it stops watching it; the embedded core, which runs it in this
// process, stops it too.
type Operation[T any] struct {
	// ID names the request: the API server's request ID, or a random one for the embedded core.
	ID string `json:"request_id"`

	events chan Event
	done   chan struct{}
	result T
	err    error
}

// Events returns the operation's events; the channel is closed after the last one, before Wait returns.
func (o *Operation[T]) Events() <-chan Event { return o.events }

// Wait waits for the operation to end and returns its outcome.
func (o *Operation[T]) Wait() (T, error) {
	for range o.events { // the events nobody reads must not block the operation
	}
	<-o.done
	return o.result, o.err
}

// Wait waits for the operation a call started and returns its outcome, or the call's own error:
// api.Wait(c.Stop(ctx, name)).
func Wait[T any](op *Operation[T], err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return op.Wait()
}

// Go starts run in its own goroutine as an Operation, for implementations of Client: run reports events with
// emit and returns the outcome. emit never blocks once ctx is done, so an operation whose caller went away
// still ends. id names the request; empty gives a random one.
func Go[T any](ctx context.Context, id string, run func(ctx context.Context, emit func(Event)) (T, error)) *Operation[T] {
	if id == "" {
		id = NewRequestID()
	}
	o := &Operation[T]{ID: id, events: make(chan Event), done: make(chan struct{})}
	emit := func(e Event) {
		select {
		case o.events <- e:
		case <-ctx.Done():
		}
	}
	go func() {
		defer close(o.done)
		defer close(o.events) // before done: Wait has read every event when it returns
		o.result, o.err = run(ctx, emit)
	}()
	return o
}

// NewRequestID returns a random request ID, formatted as a UUID as SkyPilot's request IDs are.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
