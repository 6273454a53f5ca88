package agent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/agent/envknob"
)

// smallBuffers shrinks a socket's kernel buffers, so that what a peer has not read yet holds back the sender
// within a few kilobytes, as over a slow link, instead of the megabytes loopback would take in.
func smallBuffers(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		for _, opt := range []int{syscall.SO_RCVBUF, syscall.SO_SNDBUF} {
			if e := syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt, 4096); e != nil {
				serr = e
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// uploadServer serves h on loopback with small socket buffers and returns a client for it with the given
// timeout, dialling with small buffers too.
func uploadServer(t *testing.T, timeout time.Duration, h http.HandlerFunc) *Client {
	t.Helper()
	lc := net.ListenConfig{Control: smallBuffers}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	d := &net.Dialer{Control: smallBuffers}
	c := NewClient(ln.Addr().String(), testSecret, d.DialContext, WithNode("upload", 1), WithTimeout(timeout))
	t.Cleanup(c.Close)
	return c
}

// TestQuickCallUploadIsProgress: a quick call's deadline means no progress in either direction for the timeout,
// so an upload that takes several timeouts in all (a large job spec over a slow link) goes through while the
// agent keeps reading it, and one that the agent does not read ends with an *api.NodeNotAnsweringError.
func TestQuickCallUploadIsProgress(t *testing.T) {
	t.Parallel()
	const (
		timeout = time.Second
		chunk   = 32 << 10
		pause   = 50 * time.Millisecond // between two chunks read: a twentieth of the timeout
		chunks  = 64                    // 3.2 s of pauses in all: over three timeouts
	)
	spec := JobSpec{Run: strings.Repeat("x", chunks*chunk)}
	body, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("slow reader", func(t *testing.T) {
		t.Parallel()
		c := uploadServer(t, timeout, func(w http.ResponseWriter, r *http.Request) {
			buf := make([]byte, chunk)
			var got int
			for {
				n, err := io.ReadFull(r.Body, buf)
				got += n
				if err != nil {
					break
				}
				time.Sleep(pause) // the slow link itself, not synchronisation
			}
			_ = json.NewEncoder(w).Encode(SubmitResponse{JobID: int64(got)})
		})
		start := time.Now()
		got, err := c.Submit(ctxT(t), spec)
		if err != nil {
			t.Fatalf("submit to an agent reading slowly: %v", err)
		}
		if got != int64(len(body)) {
			t.Errorf("the agent read %d bytes of %d", got, len(body))
		}
		t.Logf("%d bytes uploaded in %s with a %s timeout", len(body), time.Since(start).Round(time.Millisecond), timeout)
	})

	t.Run("no reader", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		c := uploadServer(t, timeout, func(w http.ResponseWriter, r *http.Request) {
			<-release // reads nothing until the test is over
		})
		t.Cleanup(func() { close(release) }) // before the server closes: cleanups run last first
		_, err := c.Submit(ctxT(t), spec)
		var na *api.NodeNotAnsweringError
		if !errors.As(err, &na) {
			t.Fatalf("submit to an agent reading nothing: err = %v, want *api.NodeNotAnsweringError", err)
		}
		if na.Cluster != "upload" || na.Node != 1 || na.Op != "POST /v1/jobs" || na.Waited != timeout {
			t.Errorf("error = %+v", na)
		}
	})
}

// TestAgentTimeoutKnob: STIX_AGENT_TIMEOUT is read once, when a client is made; WithTimeout wins over it, and a
// bad value stops `stix-agent serve` as it starts, saying what is wrong (the CLI: cluster.New), while a client
// made anyway falls back to the default. Not parallel: it sets the environment.
func TestAgentTimeoutKnob(t *testing.T) {
	t.Setenv(envknob.AgentTimeout.Name, "250ms")
	if c := NewClient("127.0.0.1:1", testSecret, nil); c.timeout != 250*time.Millisecond {
		t.Errorf("timeout from the knob = %s, want 250ms", c.timeout)
	}
	if c := NewClient("127.0.0.1:1", testSecret, nil, WithTimeout(time.Minute)); c.timeout != time.Minute {
		t.Errorf("timeout with WithTimeout = %s, want 1m", c.timeout)
	}

	t.Setenv(envknob.AgentTimeout.Name, "bogus")
	if c := NewClient("127.0.0.1:1", testSecret, nil); c.timeout != envknob.AgentTimeout.Default {
		t.Errorf("timeout from a bad knob = %s, want the default %s", c.timeout, envknob.AgentTimeout.Default)
	}
	var out, errb strings.Builder
	code := mainWith([]string{"stix-agent", "serve", "--dir", t.TempDir()}, &out, &errb)
	want := `stix-agent: environment variable STIX_AGENT_TIMEOUT="bogus": want a positive duration such as 100ms or 1m`
	if code != 2 || !strings.Contains(errb.String(), want) {
		t.Errorf("serve with a bad timeout: exit %d, stderr %q; want exit 2 and %q", code, errb.String(), want)
	}
}
