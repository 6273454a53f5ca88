package cli

import (
	"fmt"
	"sync"
	"time"
)

// Progress shows what a long command is doing, on stderr. On a terminal it is one spinner line that is redrawn in
// place; off a terminal each step is a plain line ("⚙︎ Launching..."), so logs stay readable. Finished steps print
// "✓ ..." (or "✗ ..."). A Progress owns at most one goroutine, started by Start and always ended by Stop, Done or
// Fail, which wait for it to exit.
type Progress struct {
	io       *IOStreams
	interval time.Duration

	mu      sync.Mutex
	msg     string
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

// Start begins a step. On a terminal the spinner's first frame is drawn before Start returns.
// Calling Start while a step runs just changes its message.
func (p *Progress) Start(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
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

// Update changes the message of the running step. Off a terminal it prints the new step as a line.
func (p *Progress) Update(msg string) { p.Start(msg) }

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

// Done stops the spinner and prints "✓ msg" (green when colour is on).
func (p *Progress) Done(msg string) { p.finish(successSymbol+msg, Green) }

// Fail stops the spinner and prints "✗ msg" (red when colour is on).
func (p *Progress) Fail(msg string) { p.finish(failureSymbol+msg, Red) }

// Stop ends the spinner and clears its line without printing anything. It is safe to call more than once.
func (p *Progress) Stop() { p.finish("", Plain) }

func (p *Progress) finish(line string, st Style) {
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
	if line != "" {
		fmt.Fprintln(p.io.ErrOut, p.io.Paint(st, line))
	}
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
