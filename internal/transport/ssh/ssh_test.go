package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/stix-run/stix/internal/testutil/sshhost"
	"github.com/stix-run/stix/internal/transport"
)

// connect starts an sshd and dials it with a fresh known_hosts file.
func connect(t testing.TB) (*Transport, *sshhost.Host) {
	t.Helper()
	h := sshhost.Start(t)
	tr, err := Dial(context.Background(), configFor(t, h))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr, h
}

func configFor(t testing.TB, h *sshhost.Host) Config {
	return Config{Host: h.Host, Port: h.Port, User: h.User, IdentityFiles: []string{h.UserKey},
		KnownHostsFile: filepath.Join(t.TempDir(), "known_hosts"), KeepAlive: 5 * time.Second}
}

func TestRun(t *testing.T) {
	t.Parallel()
	tr, _ := connect(t)
	dir := t.TempDir()
	tests := []struct {
		name, cmd string
		opts      transport.RunOptions
		code      int
		out       string
	}{
		{name: "exit code", cmd: "exit 7", code: 7},
		{name: "stdout", cmd: "echo hello", out: "hello\n"},
		{name: "env with quotes", cmd: `printf %s "$A-$B"`, opts: transport.RunOptions{Env: []string{"A=it's", "B=x y"}}, out: "it's-x y"},
		{name: "cwd", cmd: "pwd", opts: transport.RunOptions{Dir: dir}, out: dir + "\n"},
		{name: "home by default", cmd: `[ "$(pwd)" = "$HOME" ] && echo same`, out: "same\n"},
		{name: "stdin", cmd: "tr a-z A-Z", opts: transport.RunOptions{Stdin: strings.NewReader("abc")}, out: "ABC"},
		{name: "bash", cmd: `[[ -n "$BASH_VERSION" ]] && echo bash`, out: "bash\n"},
		{name: "killed by signal", cmd: "kill -TERM $$", code: 128 + 15},
		{name: "missing dir", cmd: "true", opts: transport.RunOptions{Dir: "/nonexistent/stix"}, code: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			tc.opts.Stdout = &out
			code, err := tr.Run(context.Background(), tc.cmd, tc.opts)
			if err != nil || code != tc.code || out.String() != tc.out {
				t.Errorf("Run(%q) = %d, %v, output %q; want %d, nil, %q", tc.cmd, code, err, out.String(), tc.code, tc.out)
			}
		})
	}
}

func TestRunStderrAndBadEnv(t *testing.T) {
	t.Parallel()
	tr, _ := connect(t)
	var stderr bytes.Buffer
	if code, err := tr.Run(context.Background(), "echo oops >&2; exit 3", transport.RunOptions{Stderr: &stderr}); code != 3 || err != nil {
		t.Fatalf("Run = %d, %v", code, err)
	}
	if stderr.String() != "oops\n" {
		t.Errorf("stderr = %q", stderr.String())
	}
	if _, err := tr.Run(context.Background(), "true", transport.RunOptions{Env: []string{"1BAD=x"}}); err == nil {
		t.Error("an invalid variable name was accepted")
	}
}

// Ending ctx kills the remote command and its children, not only the session.
func TestRunCancelKillsRemoteProcessGroup(t *testing.T) {
	t.Parallel()
	tr, _ := connect(t)
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := tr.Run(ctx, "sleep 300 & echo $! > "+pidFile+"; echo started; wait", transport.RunOptions{Stdout: pw})
		pw.Close()
		done <- err
	}()
	line := make([]byte, 8)
	if _, err := io.ReadFull(pr, line); err != nil || string(line) != "started\n" {
		t.Fatalf("read %q: %v", line, err)
	}
	go io.Copy(io.Discard, pr)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: %v, want context.Canceled", err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(b))
	// The kill is done when Run returns; the process may linger only as a zombie being reaped.
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil || strings.Contains(string(st), ") Z ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("remote child %s still runs after cancel: %s", pid, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Every command, file and tunnel goes over the one connection opened by Dial.
func TestOneConnection(t *testing.T) {
	t.Parallel()
	tr, h := connect(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	for range 10 {
		if code, err := tr.Run(context.Background(), "true", transport.RunOptions{}); code != 0 || err != nil {
			t.Fatalf("Run: %d %v", code, err)
		}
	}
	if _, err := tr.Sync(context.Background(), src, filepath.Join(t.TempDir(), "d"), transport.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := tr.Upload(context.Background(), filepath.Join(src, "f"), filepath.Join(t.TempDir(), "u"), 0o600); err != nil {
		t.Fatal(err)
	}
	if n := h.Logins(); n != 1 {
		t.Errorf("sshd accepted %d logins, want 1", n)
	}
}

// Dial reaches a listener as the node sees it, through the SSH connection.
func TestDialTunnel(t *testing.T) {
	t.Parallel()
	tr, _ := connect(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	c, err := tr.Dial(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo = %q, %v", buf, err)
	}
	if _, err := tr.Dial(context.Background(), "tcp", "127.0.0.1:1"); err == nil {
		t.Error("a tunnel to a closed port succeeded")
	}
}

func TestKnownHosts(t *testing.T) {
	t.Parallel()
	h := sshhost.Start(t)
	cfg := configFor(t, h)
	tr, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr.Close()
	b, err := os.ReadFile(cfg.KnownHostsFile)
	if err != nil || strings.TrimSpace(string(b)) != h.KnownHostsLine() {
		t.Fatalf("known_hosts after first contact = %q (%v), want %q", b, err, h.KnownHostsLine())
	}
	// A second contact trusts the recorded key and writes nothing.
	tr, err = Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr.Close()
	if b2, _ := os.ReadFile(cfg.KnownHostsFile); !bytes.Equal(b, b2) {
		t.Errorf("known_hosts changed on second contact: %q", b2)
	}
	// Another key recorded for the host: refused, with the file and line to edit.
	other := sshhost.NewKey(t, filepath.Join(t.TempDir(), "other"))
	line := fmt.Sprintf("# cluster c\n[%s]:%d %s", h.Host, h.Port, gossh.MarshalAuthorizedKey(other))
	os.WriteFile(cfg.KnownHostsFile, []byte(line), 0o600)
	_, err = Dial(context.Background(), cfg)
	var changed *HostKeyChangedError
	if !errors.As(err, &changed) {
		t.Fatalf("Dial with a changed host key: %v, want *HostKeyChangedError", err)
	}
	if changed.File != cfg.KnownHostsFile || changed.Line != 2 || !strings.Contains(err.Error(), cfg.KnownHostsFile+" line 2") {
		t.Errorf("error = %v (file %s line %d)", err, changed.File, changed.Line)
	}
}

func TestDialErrors(t *testing.T) {
	t.Parallel()
	h := sshhost.Start(t)
	wrongKey := filepath.Join(t.TempDir(), "wrong")
	sshhost.NewKey(t, wrongKey)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	t.Run("wrong identity", func(t *testing.T) {
		cfg := configFor(t, h)
		cfg.IdentityFiles = []string{wrongKey}
		_, err := Dial(context.Background(), cfg)
		var ae *AuthError
		if !errors.As(err, &ae) || ae.User != h.User || !strings.Contains(err.Error(), h.User+"@") || !strings.Contains(err.Error(), wrongKey) {
			t.Fatalf("Dial = %v, want *AuthError naming %s and %s", err, h.User, wrongKey)
		}
	})
	t.Run("refused", func(t *testing.T) {
		cfg := configFor(t, h)
		cfg.Port = closedPort
		_, err := Dial(context.Background(), cfg)
		var ue *UnreachableError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "cannot reach 127.0.0.1:") {
			t.Fatalf("Dial = %v, want *UnreachableError", err)
		}
	})
	t.Run("no handshake", func(t *testing.T) {
		// A listener that accepts and says nothing: the handshake times out.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		cfg := configFor(t, h)
		cfg.Port = l.Addr().(*net.TCPAddr).Port
		cfg.ConnectTimeout = 300 * time.Millisecond
		_, err = Dial(context.Background(), cfg)
		var ue *UnreachableError
		if !errors.As(err, &ue) {
			t.Fatalf("Dial = %v, want *UnreachableError", err)
		}
	})
	t.Run("stalls after the key exchange", func(t *testing.T) {
		// A server that shows its host key and then never answers the authentication (a host too loaded to
		// answer): the connection's deadline ends the handshake, which is a handshake timeout that a caller may
		// retry, not a refused key.
		cfg := configFor(t, h)
		cfg.Port = stallingServer(t)
		cfg.ConnectTimeout = 300 * time.Millisecond
		for i := 0; i < 20; i++ {
			_, err := Dial(context.Background(), cfg)
			var ue *UnreachableError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), "no SSH handshake within") {
				t.Fatalf("Dial #%d = %v, want *UnreachableError: no SSH handshake within", i, err)
			}
		}
	})
}

// stallingServer is an SSH server on loopback that completes the key exchange and then blocks every
// authentication until the test ends; it returns its port.
func stallingServer(t *testing.T) int {
	t.Helper()
	done := make(chan struct{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { close(done); l.Close() })
	keyFile := filepath.Join(t.TempDir(), "host")
	sshhost.NewKey(t, keyFile)
	pem, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &gossh.ServerConfig{PublicKeyCallback: func(gossh.ConnMetadata, gossh.PublicKey) (*gossh.Permissions, error) {
		<-done
		return nil, errors.New("test over")
	}}
	cfg.AddHostKey(signer)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _, _, _ = gossh.NewServerConn(c, cfg)
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// ProxyJump reaches the target through the jump host's connection.
func TestProxyJump(t *testing.T) {
	t.Parallel()
	jump := sshhost.Start(t)
	target := sshhost.Start(t)
	cfg := configFor(t, target)
	jc := configFor(t, jump)
	jc.KnownHostsFile = ""
	cfg.ProxyJump = &jc
	tr, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if code, err := tr.Run(context.Background(), "true", transport.RunOptions{}); code != 0 || err != nil {
		t.Fatalf("Run via jump: %d, %v", code, err)
	}
	if jump.Logins() != 1 || target.Logins() != 1 {
		t.Errorf("logins: jump %d, target %d; want 1 and 1", jump.Logins(), target.Logins())
	}
	b, _ := os.ReadFile(cfg.KnownHostsFile)
	if !strings.Contains(string(b), jump.KnownHostsLine()) || !strings.Contains(string(b), target.KnownHostsLine()) {
		t.Errorf("known_hosts lacks a host: %s", b)
	}
}

// BenchmarkRun compares a command over the reused connection with a fresh `ssh host true` process.
func BenchmarkRun(b *testing.B) {
	tr, h := connect(b)
	b.Run("reused-connection", func(b *testing.B) {
		for b.Loop() {
			if code, err := tr.Run(context.Background(), "true", transport.RunOptions{}); code != 0 || err != nil {
				b.Fatal(code, err)
			}
		}
	})
	b.Run("fresh-ssh-process", func(b *testing.B) {
		for b.Loop() {
			if out, err := exec.Command("ssh", append(h.SSHArgs(), "true")...).CombinedOutput(); err != nil {
				b.Fatal(err, string(out))
			}
		}
	})
}
