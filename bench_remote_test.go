package stix_test

// Benchmarks of the remote infra through the real CLI, each against the bare round trip it adds to, measured in
// the same run: go test -run '^$' -bench Remote -benchtime 20x .

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/cloud/docker"
	"github.com/stix-run/stix/internal/testutil/sshhost"
)

// cli runs the stix binary against home and fails the benchmark on error.
func cli(b *testing.B, home string, args ...string) {
	b.Helper()
	cmd := exec.Command(filepath.Join(binDir, "stix"), args...)
	cmd.Env = append(os.Environ(), "STIX_HOME="+home, "STIX_AGENT_BIN="+filepath.Join(binDir, "stix-agent"), "NO_COLOR=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("stix %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func run(b *testing.B, name string, args ...string) {
	b.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func BenchmarkRemoteExecDocker(b *testing.B) {
	home := b.TempDir()
	cli(b, home, "launch", "-y", "-c", "bd", "--infra", "docker", "true")
	b.Cleanup(func() { cli(b, home, "down", "-y", "bd") })
	container := fmt.Sprintf("stix-%s-bd-0", docker.Namespace(home))
	b.Run("bare=docker-exec", func(b *testing.B) {
		for b.Loop() {
			run(b, "docker", "exec", container, "true")
		}
	})
	b.Run("stix-exec-d", func(b *testing.B) {
		for b.Loop() {
			cli(b, home, "exec", "-d", "bd", "true")
		}
	})
}

func BenchmarkRemoteExecSSH(b *testing.B) {
	home := b.TempDir()
	h := sshhost.StartAt(b, "127.0.0.40")
	pools := fmt.Sprintf("bench:\n  hosts:\n    - ip: %s\n      port: %d\n      user: %s\n      identity_file: %s\n", h.Host, h.Port, h.User, h.UserKey)
	if err := os.WriteFile(filepath.Join(home, "ssh_node_pools.yaml"), []byte(pools), 0o600); err != nil {
		b.Fatal(err)
	}
	cli(b, home, "ssh", "up", "--infra", "bench")
	cli(b, home, "launch", "-y", "-c", "bs", "--infra", "ssh/bench", "true")
	b.Cleanup(func() { cli(b, home, "down", "-y", "bs") })
	b.Run("bare=ssh-true", func(b *testing.B) {
		for b.Loop() {
			run(b, "ssh", append(h.SSHArgs(), "true")...)
		}
	})
	b.Run("stix-exec-d", func(b *testing.B) {
		for b.Loop() {
			cli(b, home, "exec", "-d", "bs", "true")
		}
	})
}

// BenchmarkRemoteLaunchDocker4 launches a 4-node Docker cluster (node image cached) and runs a job on it.
func BenchmarkRemoteLaunchDocker4(b *testing.B) {
	home := b.TempDir()
	i := 0
	for b.Loop() {
		i++
		name := fmt.Sprintf("b4-%d", i)
		cli(b, home, "launch", "-y", "-c", name, "--infra", "docker", "--num-nodes", "4", "true")
		b.StopTimer()
		cli(b, home, "down", "-y", name)
		b.StartTimer()
	}
}

// BenchmarkRemoteSyncDocker syncs a 1000-file, 100 MB workdir to a Docker node: the first sync copies it all,
// the second finds nothing changed.
func BenchmarkRemoteSyncDocker(b *testing.B) {
	work := b.TempDir()
	buf := make([]byte, 100<<10)
	for i := range 1000 {
		_, _ = rand.Read(buf)
		dir := filepath.Join(work, fmt.Sprintf("d%02d", i/50))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", i)), buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	home := b.TempDir()
	i := 0
	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			i++
			name := fmt.Sprintf("bsync-%d", i)
			cli(b, home, "launch", "-y", "-c", name, "--infra", "docker", "true")
			b.StartTimer()
			cli(b, home, "exec", "-d", "--workdir", work, name, "true")
		}
	})
	b.Run("second", func(b *testing.B) {
		name := fmt.Sprintf("bsync-%d", i)
		for b.Loop() {
			cli(b, home, "exec", "-d", "--workdir", work, name, "true")
		}
	})
	b.Cleanup(func() { cli(b, home, "down", "-y", "-a") })
}
