// Package sshhost starts a real OpenSSH server for tests: one sshd per test, on a free loopback port, with its
// own host key, user key and authorized_keys in the test's temporary directory, owned by the test (started with
// -D, killed in t.Cleanup). It is imported by tests only.
package sshhost

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// SSHD is where Debian's openssh-server puts the daemon; .ci/run installs it.
const SSHD = "/usr/sbin/sshd"

// sftpServer is the SFTP subsystem binary of the same package.
const sftpServer = "/usr/lib/openssh/sftp-server"

// startTimeout bounds how long Start waits for sshd to accept connections: generous, for a machine loaded by
// a whole test run (an sshd that logged "Server listening" once took longer than 10 s to answer there).
const startTimeout = 30 * time.Second

// Host is a running sshd.
type Host struct {
	// Addr is host:port of the server (127.0.0.1:<port>).
	Addr string
	// Host and Port are Addr's parts.
	Host string
	Port int
	// User is the login name whose key is authorized: the user the test runs as.
	User string
	// UserKey is the path of the authorized private key (ed25519, no passphrase).
	UserKey string
	// HostKey is the server's public host key.
	HostKey ssh.PublicKey
	// Dir holds the server's files (config, keys, log).
	Dir string
	// Log is the server's log file (sshd -E).
	Log string
	// stop ends sshd; Stop calls it.
	stop func()
	// Home is the directory that the server shows as the user's home: sshd runs in a mount namespace of its
	// own where Home is bind-mounted on the user's real home directory (RemoteHome), so that tests neither
	// write into it nor wait for its shell startup files.
	Home, RemoteHome string
	// Netns is the host's network namespace (StartInNetns); empty for loopback hosts.
	Netns string
}

// Start runs an sshd for the test on a free port of 127.0.0.1 and returns once it accepts connections. It fails
// the test, never skips it, when sshd is not installed.
func Start(t testing.TB) *Host {
	t.Helper()
	return StartAt(t, "127.0.0.1")
}

// StartAt is Start on another loopback address (127.0.0.2, ...), so that several hosts have distinct IPs.
func StartAt(t testing.TB, ip string) *Host {
	t.Helper()
	return start(t, ip, 0, nil, "", true)
}

// StartWithoutSFTP is Start with an sshd whose config has no `Subsystem sftp` line, as some hardened hosts and
// minimal images have: sessions and exec work, SFTP does not.
func StartWithoutSFTP(t testing.TB) *Host {
	t.Helper()
	return start(t, "127.0.0.1", 0, nil, "", false)
}

// start runs sshd on ip:port (port 0: a free one, found from here), under the command prefix wrap (entering a
// network namespace, say), showing home as the user's home (empty: a fresh directory of its own), with the
// SFTP subsystem when sftp is set.
func start(t testing.TB, ip string, port int, wrap []string, home string, sftp bool) *Host {
	t.Helper()
	if _, err := os.Stat(SSHD); err != nil {
		t.Fatalf("%s is missing: install openssh-server (.ci/run does): %v", SSHD, err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatalf("sshhost: current user: %v", err)
	}
	dir := tempDir(t)
	h := &Host{Host: ip, User: u.Username, Dir: dir, Log: filepath.Join(dir, "sshd.log"), Home: home, RemoteHome: u.HomeDir}
	if h.Home == "" {
		h.Home = filepath.Join(dir, "home")
		if err := os.Mkdir(h.Home, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	hostPub := writeKey(t, filepath.Join(dir, "host_ed25519"))
	h.HostKey = hostPub
	h.UserKey = filepath.Join(dir, "user_ed25519")
	userPub := writeKey(t, h.UserKey)
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(userPub), 0o600); err != nil {
		t.Fatal(err)
	}
	// sshd's privilege separation needs this directory; a booted Debian creates it, a container may not.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatalf("sshhost: %v", err)
	}
	h.Port = port
	if h.Port == 0 {
		h.Port = freePort(t, ip)
	}
	h.Addr = net.JoinHostPort(h.Host, strconv.Itoa(h.Port))
	cfg := filepath.Join(dir, "sshd_config")
	conf := fmt.Sprintf(`Port %d
ListenAddress %s
HostKey %s
PidFile none
AuthorizedKeysFile %s
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
AllowTcpForwarding yes
MaxSessions 100
MaxStartups 100
LogLevel INFO
`, h.Port, ip, filepath.Join(dir, "host_ed25519"), filepath.Join(dir, "authorized_keys"))
	if sftp {
		conf += "Subsystem sftp " + sftpServer + "\n"
	}
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(SSHD, "-t", "-f", cfg).CombinedOutput(); err != nil {
		t.Fatalf("sshhost: sshd -t rejects the config: %v: %s", err, out)
	}
	// The host's power-off: a shutdown shim that records the call (PoweredOff) stands, in the host's own mount
	// namespace only, on /usr/local/sbin and over every shutdown, poweroff and halt of the machine, so that an
	// agent told to power its "VM" off (autostop on clouds) can never reach the real one.
	sbin := filepath.Join(dir, "sbin")
	shim := filepath.Join(sbin, "shutdown")
	if err := os.Mkdir(sbin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shim, []byte("#!/bin/sh\necho \"$0 $*\" >> '"+filepath.Join(dir, poweroffFile)+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// unshare and sh exec, so the process the test owns is sshd itself.
	argv := append(append([]string(nil), wrap...), "unshare", "--mount", "--propagation", "private", "sh", "-c",
		`mount --bind "$1" "$2" && mount --bind "$6" /usr/local/sbin &&
for f in /usr/sbin/shutdown /sbin/shutdown /usr/sbin/poweroff /sbin/poweroff /usr/sbin/halt /sbin/halt; do
  if [ -e "$f" ]; then mount --bind "$7" "$f" || exit 1; fi
done && exec "$3" -D -f "$4" -E "$5"`, "sh", h.Home, h.RemoteHome, SSHD, cfg, h.Log, sbin, shim)
	cmd := exec.Command(argv[0], argv[1:]...)
	errFile, err := os.Create(filepath.Join(dir, "start.err"))
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	cmd.Stderr = errFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("sshhost: start sshd (needs root and util-linux's unshare): %v", err)
	}
	// done is closed once sshd has exited and waitErr is set: both stop and waitReady may wait for it.
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			<-done
		})
	}
	t.Cleanup(h.stop)
	h.waitReady(t, done, &waitErr)
	return h
}

// tempDir is t.TempDir for a host's files, except that its removal waits for stragglers: sshd's per-connection
// processes outlive the killed daemon for a moment and may still write its log, which makes t.TempDir's
// removal fail with "directory not empty".
func tempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sshhost")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := os.RemoveAll(dir)
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("sshhost: remove %s: %v", dir, err)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	return dir
}

// waitReady polls until sshd accepts TCP connections, failing the test with its log if it exits or never does.
func (h *Host) waitReady(t testing.TB, done <-chan struct{}, waitErr *error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	var d net.Dialer
	for wait := 5 * time.Millisecond; ; wait = min(wait*2, 100*time.Millisecond) {
		if c, err := d.DialContext(ctx, "tcp", h.Addr); err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			t.Fatalf("sshhost: sshd exited during start (it needs root for its mount namespace): %v\n%s%s", *waitErr, h.startErrors(), h.readLog())
		case <-ctx.Done():
			t.Fatalf("sshhost: sshd did not listen on %s within %s\n%s%s", h.Addr, startTimeout, h.startErrors(), h.readLog())
		case <-time.After(wait):
		}
	}
}

// Stop ends sshd now (a host that went down); processes started through it keep running.
func (h *Host) Stop() { h.stop() }

func (h *Host) readLog() string {
	b, _ := os.ReadFile(h.Log)
	return string(b)
}

// startErrors is what unshare, mount or sshd printed before sshd's log took over.
func (h *Host) startErrors() string {
	b, _ := os.ReadFile(filepath.Join(h.Dir, "start.err"))
	return string(b)
}

// Logins counts the connections sshd authenticated so far (its "Accepted publickey" log lines).
func (h *Host) Logins() int {
	return bytes.Count([]byte(h.readLog()), []byte("Accepted publickey"))
}

// poweroffFile, in the host's Dir, records the calls of its shutdown shim.
const poweroffFile = "poweroff.log"

// PoweredOff says whether something on the host ran shutdown (poweroff, halt): a VM powering itself off.
func (h *Host) PoweredOff() bool {
	_, err := os.Stat(filepath.Join(h.Dir, poweroffFile))
	return err == nil
}

// KnownHostsLine is the known_hosts line that trusts this server's host key.
func (h *Host) KnownHostsLine() string {
	return fmt.Sprintf("[%s]:%d %s", h.Host, h.Port, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(h.HostKey))))
}

// SSHArgs are the OpenSSH client arguments that log in to this server non-interactively, without touching the
// user's known_hosts: for comparisons with the ssh command line.
func (h *Host) SSHArgs() []string {
	return []string{"-p", strconv.Itoa(h.Port), "-i", h.UserKey, "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", h.User + "@" + h.Host}
}

// NewKey writes a fresh ed25519 private key (OpenSSH format, no passphrase) to path and returns its public key.
func NewKey(t testing.TB, path string) ssh.PublicKey {
	t.Helper()
	return writeKey(t, path)
}

func writeKey(t testing.TB, path string) ssh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(sshPub), 0o644); err != nil {
		t.Fatal(err)
	}
	return sshPub
}

// freePort returns a loopback TCP port nobody listens on right now.
func freePort(t testing.TB, ip string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Authorize appends a public key (authorized_keys form) to the keys the server accepts: what a cloud does with
// the key an instance is launched with.
func (h *Host) Authorize(pub string) error {
	f, err := os.OpenFile(filepath.Join(h.Dir, "authorized_keys"), os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintln(f, strings.TrimSpace(pub))
	return err
}
