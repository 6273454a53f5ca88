package cli_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"

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
	p.Update("Syncing workdir")
	p.Done("Cluster dev is up")
	p.Stop() // a second stop is harmless
	want := "⚙︎ Launching...\n⚙︎ Syncing workdir...\n✓ Cluster dev is up\n"
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
