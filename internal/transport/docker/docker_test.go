package docker_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/testutil/dockertest"
	"github.com/stix-run/stix/internal/transport"
	"github.com/stix-run/stix/internal/transport/docker"
)

// node starts a container of the node image on a network of its own and returns its transport.
func node(t testing.TB) *docker.Transport {
	t.Helper()
	cli := dockertest.Client(t)
	img := dockertest.NodeImage(t, cli)
	id := dockertest.Container(t, cli, img, dockertest.Network(t, cli))
	tr, err := docker.New(cli, id, docker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// output runs cmd on tr and returns its standard output, failing the test unless it exits 0.
func output(t testing.TB, tr transport.Transport, cmd string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	code, err := tr.Run(context.Background(), cmd, transport.RunOptions{Stdout: &out, Stderr: &errOut})
	if err != nil || code != 0 {
		t.Fatalf("run %q: exit %d, %v, stderr %q", cmd, code, err, errOut.String())
	}
	return out.String()
}

func TestRun(t *testing.T) {
	t.Parallel()
	tr := node(t)
	output(t, tr, "mkdir -p /srv/work")
	tests := []struct {
		name       string
		cmd        string
		opts       transport.RunOptions
		stdin      string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "bash", cmd: `a=(1 2 3); echo "${a[2]}"; seq 3 | paste -sd,`, wantStdout: "3\n1,2,3\n"},
		{name: "home is the working directory", cmd: `echo "$HOME $(pwd)"`, wantStdout: "/root /root\n"},
		{name: "env", cmd: `echo "$A|$B"`, opts: transport.RunOptions{Env: []string{"A=1", "B=two words"}}, wantStdout: "1|two words\n"},
		{name: "absolute dir", cmd: `pwd`, opts: transport.RunOptions{Dir: "/srv/work"}, wantStdout: "/srv/work\n"},
		{name: "home-relative dir", cmd: `mkdir -p ~/x/y && cd ~/x/y && touch f; cd /; echo ok`, wantStdout: "ok\n"},
		{name: "exit code", cmd: `echo out; echo err >&2; exit 7`, wantCode: 7, wantStdout: "out\n", wantStderr: "err\n"},
		{name: "killed by signal", cmd: `kill -9 $$`, wantCode: 137},
		{name: "stdin", cmd: `tr a-z A-Z`, stdin: "hello\nworld\n", wantStdout: "HELLO\nWORLD\n"},
		{name: "no stdin is empty input", cmd: `cat; echo end`, wantStdout: "end\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			opts := tt.opts
			opts.Stdout, opts.Stderr = &out, &errOut
			if tt.stdin != "" {
				opts.Stdin = strings.NewReader(tt.stdin)
			}
			code, err := tr.Run(context.Background(), tt.cmd, opts)
			if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode || out.String() != tt.wantStdout || errOut.String() != tt.wantStderr {
				t.Errorf("got exit %d, stdout %q, stderr %q; want %d, %q, %q", code, out.String(), errOut.String(),
					tt.wantCode, tt.wantStdout, tt.wantStderr)
			}
		})
	}
	t.Run("relative dir", func(t *testing.T) {
		t.Parallel()
		output(t, tr, "mkdir -p ~/rel")
		if got := output(t, tr, "pwd"); got != "/root\n" {
			t.Fatalf("pwd %q", got)
		}
		var out bytes.Buffer
		if _, err := tr.Run(context.Background(), "pwd", transport.RunOptions{Dir: "rel", Stdout: &out}); err != nil || out.String() != "/root/rel\n" {
			t.Fatalf("pwd in rel: %q, %v", out.String(), err)
		}
	})
}

// signalWriter closes ready the first time its output contains want.
type signalWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	want  string
	ready chan struct{}
	once  sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.ready) })
	}
	return len(p), nil
}

func TestRunCancelKillsTree(t *testing.T) {
	t.Parallel()
	tr := node(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &signalWriter{want: "started", ready: make(chan struct{})}
	res := make(chan error, 1)
	go func() {
		// A child in its own session, which a process-group kill would miss.
		_, err := tr.Run(ctx, `setsid sleep 1001 & sleep 1002 & echo started; wait`, transport.RunOptions{Stdout: w})
		res <- err
	}()
	select {
	case <-w.ready:
	case err := <-res:
		t.Fatalf("Run returned before the command started: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the command did not start within 30s")
	}
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: %v, want context.Canceled", err)
	}
	// Killed processes stay as zombies under the container's PID 1 (sleep does not reap), with no arguments.
	if got := output(t, tr, `ps -o args | grep -c '[s]leep 100[12]' || true`); got != "0\n" {
		t.Fatalf("processes left after cancel: %q\n%s", got, output(t, tr, "ps -o pid,args"))
	}
}

func TestUpload(t *testing.T) {
	t.Parallel()
	tr := node(t)
	ctx := context.Background()
	local := filepath.Join(t.TempDir(), "f")
	writeFile(t, local, "first", 0o644)
	if err := tr.Upload(ctx, local, "~/a/b/c.txt", 0o640); err != nil {
		t.Fatal(err)
	}
	writeFile(t, local, "second version", 0o644)
	if err := tr.Upload(ctx, local, "/root/a/b/c.txt", 0o755); err != nil {
		t.Fatal(err)
	}
	if got := output(t, tr, `stat -c '%A %U' a/b/c.txt; cat a/b/c.txt; echo; ls -A a/b`); got != "-rwxr-xr-x root\nsecond version\nc.txt\n" {
		t.Fatalf("after two uploads: %q", got)
	}
	if err := tr.Upload(ctx, filepath.Join(t.TempDir(), "missing"), "~/x", 0o644); err == nil {
		t.Fatal("upload of a missing file succeeded")
	}
}

func TestDial(t *testing.T) {
	t.Parallel()
	tr := node(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tr.Run(ctx, `exec nc -ll -p 7000 -e echo hello-from-node`, transport.RunOptions{})
	}()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		line, err := dialRead(ctx, tr, "127.0.0.1:7000")
		if err == nil {
			if line != "hello-from-node\n" {
				t.Fatalf("read %q", line)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no listener within 30s: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // poll interval while nc starts, not a synchronisation
	}
	if _, err := tr.Dial(ctx, "tcp", "not-an-address"); err == nil {
		t.Fatal("dial of a malformed address succeeded")
	}
}

func dialRead(ctx context.Context, tr transport.Transport, addr string) (string, error) {
	c, err := tr.Dial(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return bufio.NewReader(c).ReadString('\n')
}

func writeFile(t testing.TB, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkRunTrue compares Run(ctx, "true") through the Engine API with `docker exec <c> true` through the
// docker CLI, on the same container.
func BenchmarkRunTrue(b *testing.B) {
	tr := node(b)
	ctx := context.Background()
	output(b, tr, "true") // learn the home directory outside the timing
	b.Run("api", func(b *testing.B) {
		for b.Loop() {
			if code, err := tr.Run(ctx, "true", transport.RunOptions{}); err != nil || code != 0 {
				b.Fatal(code, err)
			}
		}
	})
	b.Run("cli", func(b *testing.B) {
		if _, err := exec.LookPath("docker"); err != nil {
			b.Skip("no docker CLI")
		}
		for b.Loop() {
			if out, err := exec.Command("docker", "exec", tr.ContainerID(), "true").CombinedOutput(); err != nil {
				b.Fatal(err, string(out))
			}
		}
	})
}
