package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/transport"
)

func newNode(t testing.TB) *Transport {
	t.Helper()
	tr, err := New(Options{Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestResolve(t *testing.T) {
	t.Parallel()
	tr, err := New(Options{Home: "/n/home"})
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"": "/n/home", "~": "/n/home", "~/x/y": "/n/home/x/y", "rel/p": "/n/home/rel/p", "/abs/p/": "/abs/p",
	} {
		if got := tr.Resolve(in); got != want {
			t.Errorf("Resolve(%q) = %q, want %q", in, got, want)
		}
	}
	if _, err := New(Options{Home: "relative"}); err == nil {
		t.Error("New with a relative home: want an error")
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	tr := newNode(t)
	if err := os.Mkdir(filepath.Join(tr.Home(), "work"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, cmd string
		opts      transport.RunOptions
		code      int
		stdout    string
	}{
		{name: "exit status", cmd: "exit 7", code: 7},
		{name: "home is the node's", cmd: `echo "$HOME"; pwd`, stdout: tr.Home() + "\n" + tr.Home() + "\n"},
		{name: "working dir", cmd: "pwd", opts: transport.RunOptions{Dir: "~/work"}, stdout: tr.Home() + "/work\n"},
		{name: "env added", cmd: `echo "$A $B"`, opts: transport.RunOptions{Env: []string{"A=1", "B=two"}}, stdout: "1 two\n"},
		{name: "stdin", cmd: "tr a-z A-Z", opts: transport.RunOptions{Stdin: strings.NewReader("hi")}, stdout: "HI"},
		{name: "killed by a signal", cmd: "kill -9 $$", code: 128 + 9},
		{name: "bash syntax", cmd: `a=(x y); echo ${#a[@]}`, stdout: "2\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			tc.opts.Stdout = &out
			code, err := tr.Run(context.Background(), tc.cmd, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || out.String() != tc.stdout {
				t.Errorf("Run(%q) = %d, %q; want %d, %q", tc.cmd, code, out.String(), tc.code, tc.stdout)
			}
		})
	}
}

// signalWriter closes ready on the first write: the command has started.
type signalWriter struct{ ready chan struct{} }

func (w *signalWriter) Write(p []byte) (int, error) {
	select {
	case <-w.ready:
	default:
		close(w.ready)
	}
	return len(p), nil
}

func TestRunCancelKillsChildren(t *testing.T) {
	t.Parallel()
	tr := newNode(t)
	pidFile := filepath.Join(tr.Home(), "child.pid")
	ctx, cancel := context.WithCancel(context.Background())
	w := &signalWriter{ready: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := tr.Run(ctx, fmt.Sprintf("sleep 300 & echo $! > %s; echo started; wait", pidFile),
			transport.RunOptions{Stdout: w})
		done <- err
	}()
	<-w.ready
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: err = %v, want context.Canceled", err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	// The child was in the killed process group; once reaped by init it is gone.
	deadline := time.Now().Add(10 * time.Second)
	for processExists(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d of a cancelled command still runs", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func processExists(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// A zombie ("Z") is dead already.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

func TestDialAndUpload(t *testing.T) {
	t.Parallel()
	tr := newNode(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.WriteString(c, "agent")
			c.Close()
		}
	}()
	c, err := tr.Dial(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(c)
	c.Close()
	if string(got) != "agent" {
		t.Errorf("read %q through Dial, want %q", got, "agent")
	}

	src := filepath.Join(t.TempDir(), "tool")
	writeFile(t, src, "#!/bin/sh\necho ok\n", 0o600)
	if err := tr.Upload(context.Background(), src, "~/.stix/bin/tool", 0o755); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(tr.Home(), ".stix/bin/tool"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("uploaded mode = %v, want 0755", fi.Mode().Perm())
	}
	var out bytes.Buffer
	if code, err := tr.Run(context.Background(), "~/.stix/bin/tool", transport.RunOptions{Stdout: &out}); err != nil || code != 0 || out.String() != "ok\n" {
		t.Errorf("running the uploaded file: %d, %v, %q", code, err, out.String())
	}
	if err := tr.Close(); err != nil {
		t.Error(err)
	}
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

// listTree describes a tree as "path mode [-> target]" lines, for comparisons.
func listTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		line := fmt.Sprintf("%s %v", filepath.ToSlash(rel), fi.Mode())
		if fi.Mode()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			line += " -> " + target
		} else if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			line += " " + string(b)
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}
