package cli_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
)

// lockedBuffer is written by the spinner goroutine and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestProgressOffTTYPrintsPlainSteps(t *testing.T) {
	t.Parallel()
	errOut := &lockedBuffer{}
	s := cli.Test(strings.NewReader(""), &bytes.Buffer{}, errOut)
	p := cli.NewProgress(s)
	p.Start("Launching")
	p.Start("Syncing workdir")
	p.Done("Cluster dev is up")
	p.Stop() // a second stop is harmless
	// A finished step is a ✓ line without the ellipsis of a running one.
	want := "⚙︎ Launching...\n✓ Launching\n⚙︎ Syncing workdir...\n✓ Cluster dev is up\n"
	if got := errOut.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestProgressOnTTYDrawsAndClearsSpinner(t *testing.T) {
	t.Parallel()
	errOut := &lockedBuffer{}
	s := cli.Test(strings.NewReader(""), &bytes.Buffer{}, errOut)
	s.SetTTY(true)
	s.SetColorEnabled(false)
	p := cli.NewProgress(s)
	p.Start("Launching")
	if got := errOut.String(); !strings.Contains(got, "Launching") || strings.Contains(got, "\n") {
		t.Fatalf("first frame not drawn in place: %q", got)
	}
	p.Println("a log line")
	p.Fail("Provisioning failed")
	got := errOut.String()
	for _, want := range []string{"a log line\n", "✗ Provisioning failed\n", "\r\x1b[K"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in %q", want, got)
		}
	}
	if !strings.HasSuffix(got, "\r\x1b[K✗ Provisioning failed\n") {
		t.Errorf("spinner line not cleared before the final line: %q", got)
	}
	// After Fail the goroutine is gone: nothing more is written.
	before := errOut.String()
	p.Stop()
	if errOut.String() != before {
		t.Errorf("output after stop: %q", strings.TrimPrefix(errOut.String(), before))
	}
}

// TestProgressOnTTYKeepsFinishedSteps: on a terminal the spinner shows the running step, and every finished step
// stays on screen as a ✓ line (✗ for the one that failed), as docs/cli.md promises.
func TestProgressOnTTYKeepsFinishedSteps(t *testing.T) {
	t.Parallel()
	errOut := &lockedBuffer{}
	s := cli.Test(strings.NewReader(""), &bytes.Buffer{}, errOut)
	s.SetTTY(true)
	s.SetColorEnabled(false)
	p := cli.NewProgress(s)
	p.Start("Launching on Local")
	p.Start("Syncing files")
	p.Start("Job submitted, ID: 1")
	p.End(nil)
	got := screen(errOut.String())
	want := "✓ Launching on Local\n✓ Syncing files\n✓ Job submitted, ID: 1\n"
	if got != want {
		t.Errorf("screen shows %q, want %q (raw %q)", got, want, errOut.String())
	}

	errOut = &lockedBuffer{}
	s = cli.Test(strings.NewReader(""), &bytes.Buffer{}, errOut)
	s.SetTTY(true)
	s.SetColorEnabled(false)
	p = cli.NewProgress(s)
	p.Start("Launching on Local")
	p.Start("Syncing files")
	p.End(errors.New("sync failed"))
	if got, want := screen(errOut.String()), "✓ Launching on Local\n✗ Syncing files\n"; got != want {
		t.Errorf("screen shows %q, want %q", got, want)
	}
}

// TestProgressOffTTYEnd: off a terminal End prints the last step as finished, without an ellipsis.
func TestProgressOffTTYEnd(t *testing.T) {
	t.Parallel()
	errOut := &lockedBuffer{}
	p := cli.NewProgress(cli.Test(strings.NewReader(""), &bytes.Buffer{}, errOut))
	p.Start("Cluster \"dev\" is UP")
	p.End(nil)
	p.End(nil) // nothing runs any more: no second line
	want := "⚙︎ Cluster \"dev\" is UP...\n✓ Cluster \"dev\" is UP\n"
	if got := errOut.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// screen replays what a terminal shows for out: "\r\x1b[K" erases the current line.
func screen(out string) string {
	var lines []string
	cur := ""
	for len(out) > 0 {
		switch {
		case strings.HasPrefix(out, "\r\x1b[K"):
			cur, out = "", out[len("\r\x1b[K"):]
		case out[0] == '\n':
			lines, cur, out = append(lines, cur), "", out[1:]
		default:
			cur, out = cur+out[:1], out[1:]
		}
	}
	if cur != "" {
		lines = append(lines, cur+"<no newline>")
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestProgressFailoverMarksTheFailedStep: a step an operation's events report as failed (a failover attempt) stays as ✗ with
// what failed below it, and the next attempt goes on; nothing failed shows as ✓.
func TestProgressFailoverMarksTheFailedStep(t *testing.T) {
	t.Parallel()
	for _, tty := range []bool{true, false} {
		errOut := &lockedBuffer{}
		s := cli.Test(strings.NewReader(""), &bytes.Buffer{}, errOut)
		s.SetTTY(tty)
		s.SetColorEnabled(false)
		p := cli.NewProgress(s)
		op := api.Go(context.Background(), "", func(_ context.Context, emit func(api.Event)) (api.Done, error) {
			emit(api.Event{Type: api.EventStep, Msg: "Launching on AWS (us-east-1)"})
			emit(api.Event{Type: api.EventStepFailed, Msg: "Failed on AWS (us-east-1): no capacity; blocking zone", Error: "no capacity"})
			emit(api.Event{Type: api.EventStep, Msg: "Trying GCP (us-central1)"})
			return api.Done{}, nil
		})
		if _, err := cli.Watch(p, op); err != nil {
			t.Fatal(err)
		}
		got := errOut.String()
		if tty {
			got = screen(got)
		}
		want := "✗ Launching on AWS (us-east-1)\nFailed on AWS (us-east-1): no capacity; blocking zone\n✓ Trying GCP (us-central1)\n"
		if !tty {
			want = "⚙︎ Launching on AWS (us-east-1)...\n✗ Launching on AWS (us-east-1)\n" +
				"Failed on AWS (us-east-1): no capacity; blocking zone\n" +
				"⚙︎ Trying GCP (us-central1)...\n✓ Trying GCP (us-central1)\n"
		}
		if got != want {
			t.Errorf("tty=%v: got %q, want %q", tty, got, want)
		}
	}
}
