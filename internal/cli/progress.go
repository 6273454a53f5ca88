package cli

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/stix-run/stix/api"
)

// Progress shows what a long command is doing, on stderr, as a sequence of steps: a step runs until the next one
// starts or End is called, and then stays on screen as "✓ step" ("✗ step" when End gets an error). On a terminal the
// running step is one spinner line redrawn in place; off a terminal a running step is a plain line
// ("⚙︎ Launching...") and its finished line has no ellipsis, so logs stay readable. A Progress owns at most one
// goroutine, started by Start and always ended by End, Stop, Done or Fail, which wait for it to exit.
type Progress struct {
	io       *IOStreams
	interval time.Duration

	mu      sync.Mutex
	msg     string // the running step; empty when none runs
	frame   int
	drawn   bool          // a spinner line is on screen and must be cleared before other output
	stop    chan struct{} // nil when no spinner goroutine runs
	stopped chan struct{}
}

// Symbols SkyPilot prints in front of progress lines.
const (
	stepSymbol    = "⚙︎ "
	successSymbol = "✓ "
	failureSymbol = "✗ "
)

var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// NewProgress returns a Progress writing to s.ErrOut.
func NewProgress(s *IOStreams) *Progress {
	return &Progress{io: s, interval: 100 * time.Millisecond}
}

// Start begins a step; a step still running is finished first. On a terminal the spinner's first frame is drawn
// before Start returns.
func (p *Progress) Start(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishStepLocked(successSymbol, Green)
	p.msg = msg
	if !p.io.IsStderrTTY() {
		fmt.Fprintf(p.io.ErrOut, "%s%s...\n", stepSymbol, msg)
		return
	}
	p.drawLocked()
	if p.stop == nil {
		p.stop, p.stopped = make(chan struct{}), make(chan struct{})
		go p.spin(p.stop, p.stopped)
	}
}

// Handle shows an event of an operation (api.Operation): a step that begins finishes the running one as
// done; a failed step finishes it as "✗ step" and prints what failed below it. Other events are not steps.
func (p *Progress) Handle(e api.Event) {
	switch e.Type {
	case api.EventStep:
		p.Start(e.Msg)
	case api.EventStepFailed:
		p.End(errors.New(e.Error))
		p.Println(e.Msg)
	}
}

// Watch shows the steps of op on p until op ends, then returns its outcome; the running step is finished as
// "✓ step", or "✗ step" on an error (which the caller reports).
func Watch[T any](p *Progress, op *api.Operation[T]) (T, error) {
	for e := range op.Events() {
		p.Handle(e)
	}
	res, err := op.Wait()
	p.End(err)
	return res, err
}

// Println prints a line of output without garbling the spinner: the spinner line is cleared and redrawn below.
func (p *Progress) Println(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	fmt.Fprintln(p.io.ErrOut, line)
	if p.stop != nil {
		p.drawLocked()
	}
}

// End finishes the running step, if any: "✓ step" when err is nil, "✗ step" otherwise (the caller reports err).
func (p *Progress) End(err error) {
	if err != nil {
		p.finish(failureSymbol, Red)
		return
	}
	p.finish(successSymbol, Green)
}

// Done finishes the running step, which stays on screen as "✓ msg" (green when colour is on).
func (p *Progress) Done(msg string) { p.finishAs(msg, successSymbol, Green) }

// Fail finishes the running step, which stays on screen as "✗ msg" (red when colour is on).
func (p *Progress) Fail(msg string) { p.finishAs(msg, failureSymbol, Red) }

func (p *Progress) finishAs(msg, symbol string, st Style) {
	p.mu.Lock()
	p.msg = msg
	p.mu.Unlock()
	p.finish(symbol, st)
}

// Stop ends the spinner and clears its line; the running step is dropped unmarked. It is safe to call more than once.
func (p *Progress) Stop() {
	p.mu.Lock()
	p.msg = ""
	p.mu.Unlock()
	p.finish("", Plain)
}

// finish stops the spinner and marks the running step with symbol (none when empty).
func (p *Progress) finish(symbol string, st Style) {
	p.mu.Lock()
	stop, stopped := p.stop, p.stopped
	p.stop, p.stopped = nil, nil
	p.mu.Unlock()
	if stop != nil {
		close(stop)
		<-stopped
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	if symbol != "" {
		p.finishStepLocked(symbol, st)
	}
}

// finishStepLocked prints the running step as finished ("✓ step", no ellipsis) and forgets it.
func (p *Progress) finishStepLocked(symbol string, st Style) {
	if p.msg == "" {
		return
	}
	p.clearLocked()
	fmt.Fprintln(p.io.ErrOut, p.io.Paint(st, symbol+p.msg))
	p.msg = ""
}

func (p *Progress) spin(stop <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.frame = (p.frame + 1) % len(spinnerFrames)
			p.drawLocked()
			p.mu.Unlock()
		}
	}
}

func (p *Progress) drawLocked() {
	fmt.Fprintf(p.io.ErrOut, "\r\x1b[K%s %s", p.io.Paint(Cyan, spinnerFrames[p.frame]), p.msg)
	p.drawn = true
}

func (p *Progress) clearLocked() {
	if p.drawn {
		fmt.Fprint(p.io.ErrOut, "\r\x1b[K")
		p.drawn = false
	}
}
