package nodeagent

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/atomicfile"
	"github.com/stix-run/stix/internal/testutil/sshhost"
	"github.com/stix-run/stix/internal/transport"
	"github.com/stix-run/stix/internal/transport/local"
	"github.com/stix-run/stix/internal/transport/ssh"
)

// agentBin is the real stix-agent the deploy tests copy: $STIX_AGENT_BIN, or one TestMain builds.
var agentBin string

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	agentBin = os.Getenv(BinaryEnv)
	if agentBin == "" {
		dir, err := os.MkdirTemp("", "stix-agent-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		agentBin = filepath.Join(dir, BinaryName)
		build := exec.Command("go", "build", "-o", agentBin, "github.com/stix-run/stix/cmd/stix-agent")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build stix-agent:", err)
			return 1
		}
	}
	return m.Run()
}

// countingTransport counts uploads of a real transport.
type countingTransport struct {
	transport.Transport
	uploads atomic.Int32
}

func (c *countingTransport) Upload(ctx context.Context, localPath, remotePath string, mode fs.FileMode) error {
	c.uploads.Add(1)
	return c.Transport.Upload(ctx, localPath, remotePath, mode)
}

func TestDeploy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// setup returns the transport, the agent dir as the transport names it, and the same dir on this
		// machine (for cleanup and file checks).
		setup func(t *testing.T) (tr transport.Transport, dir, localDir string)
	}{
		{name: "local", setup: func(t *testing.T) (transport.Transport, string, string) {
			home := t.TempDir()
			tr, err := local.New(local.Options{Home: home})
			if err != nil {
				t.Fatal(err)
			}
			return tr, "~/agent", filepath.Join(home, "agent")
		}},
		{name: "ssh", setup: func(t *testing.T) (transport.Transport, string, string) {
			return sshNode(t, sshhost.Start(t))
		}},
		// The binary travels as a tar stream over a session when sshd has no SFTP subsystem.
		{name: "ssh-without-sftp", setup: func(t *testing.T) (transport.Transport, string, string) {
			return sshNode(t, sshhost.StartWithoutSFTP(t))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw, dir, localDir := tc.setup(t)
			tr := &countingTransport{Transport: raw}
			t.Cleanup(func() { agent.KillAll(localDir) })
			secret, err := NewSecret()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			opts := DeployOptions{Binary: agentBin, Dir: dir, Secret: secret}
			addr, deployed, err := Deploy(ctx, tr, opts)
			if err != nil {
				t.Fatal(err)
			}
			h, err := CheckHealth(ctx, tr.Dial, addr, secret)
			if err != nil {
				t.Fatalf("health after Deploy: %v", err)
			}
			if deployed == nil || deployed.PID != h.PID || deployed.Dir != h.Dir {
				t.Errorf("Deploy's health = %+v, want the agent's: %+v", deployed, h)
			}
			if h.Dir != localDir {
				t.Errorf("agent dir = %s, want %s", h.Dir, localDir)
			}
			if n := tr.uploads.Load(); n != 1 {
				t.Errorf("first Deploy uploaded %d files, want 1 (the binary; the secret travels with the start)", n)
			}
			if fi, err := os.Stat(filepath.Join(localDir, SecretFile)); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("secret file: %v, %v", fi, err)
			}
			// Again: the healthy agent is left alone and nothing moves.
			addr2, deployed2, err := Deploy(ctx, tr, opts)
			if err != nil || addr2 != addr || tr.uploads.Load() != 1 || deployed2.PID != h.PID {
				t.Fatalf("second Deploy = %s, %v, %d uploads; want %s, nil, 1", addr2, err, tr.uploads.Load(), addr)
			}
			if h2, err := CheckHealth(ctx, tr.Dial, addr, secret); err != nil || h2.PID != h.PID {
				t.Errorf("agent replaced by the second Deploy: pid %d -> %v (%v)", h.PID, h2, err)
			}
			// Agent gone: a new one starts from the binary already there (the secret travels with its start).
			if err := agent.KillAll(localDir); err != nil {
				t.Fatal(err)
			}
			addr3, _, err := Deploy(ctx, tr, opts)
			if err != nil {
				t.Fatal(err)
			}
			if h3, err := CheckHealth(ctx, tr.Dial, addr3, secret); err != nil || h3.PID == h.PID {
				t.Errorf("restarted agent: %v, %v", h3, err)
			}
			if n := tr.uploads.Load(); n != 1 {
				t.Errorf("uploads after restart = %d, want 1 (not the binary again)", n)
			}
			// Another secret is refused, not silently replaced.
			other := opts
			other.Secret = strings.Repeat("0", 64)
			if _, _, err := Deploy(ctx, tr, other); err == nil || !strings.Contains(err.Error(), "another secret") {
				t.Errorf("Deploy with another secret: %v", err)
			}
		})
	}
}

// sshNode dials h and names an agent directory under the test's temporary directory (the host shares this
// machine's file system).
func sshNode(t *testing.T, h *sshhost.Host) (transport.Transport, string, string) {
	tr, err := ssh.Dial(context.Background(), ssh.Config{Host: h.Host, Port: h.Port, User: h.User,
		IdentityFiles: []string{h.UserKey}, KnownHostsFile: filepath.Join(t.TempDir(), "known_hosts")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	dir := filepath.Join(t.TempDir(), "agent")
	return tr, dir, dir
}

// An agent that cannot start fails Deploy with the end of its log, before the deadline.
func TestDeployAgentFails(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	tr, err := local.New(local.Options{Home: home})
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "fake-agent")
	if err := atomicfile.WriteExecutable(bad, []byte("#!/bin/sh\necho 'cannot bind: boom' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, _, err = Deploy(context.Background(), tr, DeployOptions{Binary: bad, Dir: "agent", Secret: "s"})
	if err == nil || !strings.Contains(err.Error(), "exited during start") || !strings.Contains(err.Error(), "cannot bind: boom") {
		t.Fatalf("Deploy = %v, want an exit error with the log", err)
	}
}

// A fresh node is not probed for an agent: the start command itself says whether the binary is missing (then it
// is uploaded) or there (a node image carries it, and nothing is copied).
func TestDeployFresh(t *testing.T) {
	t.Parallel()
	for _, carried := range []bool{false, true} {
		t.Run(fmt.Sprintf("binary on the node %v", carried), func(t *testing.T) {
			t.Parallel()
			home := t.TempDir()
			raw, err := local.New(local.Options{Home: home})
			if err != nil {
				t.Fatal(err)
			}
			tr := &countingTransport{Transport: raw}
			if carried {
				remote, err := RemoteBinary(agentBin, "")
				if err != nil {
					t.Fatal(err)
				}
				if err := raw.Upload(context.Background(), agentBin, remote, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			dir := filepath.Join(home, "agent")
			t.Cleanup(func() { agent.KillAll(dir) })
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			addr, _, err := Deploy(ctx, tr, DeployOptions{Binary: agentBin, Dir: "~/agent", Secret: strings.Repeat("1", 64), Fresh: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := CheckHealth(ctx, tr.Dial, addr, strings.Repeat("1", 64)); err != nil {
				t.Fatalf("health after a fresh Deploy: %v", err)
			}
			if want := map[bool]int32{false: 1, true: 0}[carried]; tr.uploads.Load() != want {
				t.Errorf("uploads = %d, want %d", tr.uploads.Load(), want)
			}
		})
	}
}
