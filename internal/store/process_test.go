package store

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as a helper process: with helperMode set it runs one role of a cross-process test
// (see helperMain) instead of the tests.
const (
	helperMode = "STIX_STORE_TEST_MODE"
	helperHome = "STIX_STORE_TEST_HOME"
	helperArg  = "STIX_STORE_TEST_ARG"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperMode); mode != "" {
		if err := helperMain(mode, os.Getenv(helperHome), os.Getenv(helperArg)); err != nil {
			fmt.Fprintf(os.Stderr, "helper %s: %v\n", mode, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helperMain runs one helper role. Roles talk to the test through lines: they print what they reached on
// stdout and wait for a line on stdin where the test must decide the order.
func helperMain(mode, home, arg string) error {
	ctx := context.Background()
	s, err := Open(ctx, home)
	if err != nil {
		return err
	}
	defer s.Close()
	in := bufio.NewReader(os.Stdin)
	waitGo := func() error { _, err := in.ReadString('\n'); return err }
	switch mode {
	case "write": // write clusters arg-*, starting when told
		fmt.Println("ready")
		if err := waitGo(); err != nil {
			return err
		}
		return writeClusters(ctx, s, arg, 24)
	case "lock-then-launch": // take the lock on arg, and when told, bring the cluster UP and unlock
		unlock, err := s.LockCluster(ctx, arg)
		if err != nil {
			return err
		}
		fmt.Println("locked")
		if err := waitGo(); err != nil {
			return err
		}
		c := sampleCluster(arg)
		c.Status = StatusUp
		if err := s.PutCluster(ctx, c); err != nil {
			return err
		}
		return unlock()
	case "wait-then-read": // find arg locked, wait for the lock, then report the cluster's status
		if _, err := s.TryLockCluster(ctx, arg); !IsLocked(err) {
			return fmt.Errorf("TryLockCluster: %v, want ErrLocked", err)
		}
		fmt.Println("waiting")
		unlock, err := s.LockCluster(ctx, arg)
		if err != nil {
			return err
		}
		defer unlock()
		c, err := s.GetCluster(ctx, arg)
		if IsNotFound(err) {
			fmt.Println("missing")
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Println(c.Status)
		return nil
	case "hold": // take the lock on arg and keep it until killed
		if _, err := s.LockCluster(ctx, arg); err != nil {
			return err
		}
		fmt.Println("locked")
		_, err := io.Copy(io.Discard, in)
		return err
	}
	return fmt.Errorf("unknown mode %q", mode)
}

type helper struct {
	t     *testing.T
	mode  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startHelper starts the test binary in a helper role; it is killed when the test ends.
func startHelper(t *testing.T, mode, home, arg string) *helper {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A safety net against a hung helper, not a timing assertion.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), helperMode+"="+mode, helperHome+"="+home, helperArg+"="+arg)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
	})
	return &helper{t: t, mode: mode, cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
}

// expect reads the helper's next line and fails unless it is want.
func (h *helper) expect(want string) {
	h.t.Helper()
	line, err := h.out.ReadString('\n')
	if got := strings.TrimSuffix(line, "\n"); err != nil || got != want {
		h.t.Fatalf("helper %s said %q (%v), want %q", h.mode, got, err, want)
	}
}

func (h *helper) tell() {
	h.t.Helper()
	if _, err := io.WriteString(h.stdin, "go\n"); err != nil {
		h.t.Fatal(err)
	}
}

func (h *helper) wait() {
	h.t.Helper()
	if err := h.cmd.Wait(); err != nil {
		h.t.Fatalf("helper failed (its stderr is above): %v", err)
	}
}

func TestTwoProcessesWriteDifferentClusters(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	a, b := startHelper(t, "write", home, "a"), startHelper(t, "write", home, "b")
	a.expect("ready")
	b.expect("ready")
	a.tell()
	b.tell()
	a.wait()
	b.wait()
	assertWritten(t, openTest(t, home), 2, 24)
}

// TestLockClusterSerialisesProcesses plays two `stix launch -c same`: the second finds the lock held, waits, and
// once it has the lock sees the cluster the first brought UP. The first writes only after the second is
// waiting, so the second can see UP only if it really waited.
func TestLockClusterSerialisesProcesses(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	first := startHelper(t, "lock-then-launch", home, "same")
	first.expect("locked")
	second := startHelper(t, "wait-then-read", home, "same")
	second.expect("waiting")
	first.tell()
	first.wait()
	second.expect(string(StatusUp))
	second.wait()
}

func TestLockReleasedWhenHolderIsKilled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	home := t.TempDir()
	s := openTest(t, home)
	holder := startHelper(t, "hold", home, "c")
	holder.expect("locked")
	if _, err := s.TryLockCluster(ctx, "c"); !IsLocked(err) {
		t.Fatalf("TryLockCluster while another process holds the lock: %v, want ErrLocked", err)
	}
	if err := holder.cmd.Process.Kill(); err != nil { // SIGKILL: no chance to unlock
		t.Fatal(err)
	}
	holder.cmd.Wait() // reaped: its descriptors, and so its lock, are gone
	unlock, err := s.TryLockCluster(ctx, "c")
	if err != nil {
		t.Fatalf("TryLockCluster after the holder was killed: %v", err)
	}
	unlock()
}

func TestTryLockClusterInProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	unlock, err := s.LockCluster(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.TryLockCluster(ctx, "c")
	if !IsLocked(err) {
		t.Fatalf("TryLockCluster while held: %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), `"c"`) {
		t.Errorf("error %q should name the cluster", err)
	}
	other, err := s.TryLockCluster(ctx, "other") // locks are per name
	if err != nil {
		t.Fatal(err)
	}
	other()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.LockCluster(cancelled, "c"); err == nil {
		t.Fatal("LockCluster with a cancelled context succeeded while the lock is held")
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	again, err := s.TryLockCluster(ctx, "c")
	if err != nil {
		t.Fatalf("TryLockCluster after unlock: %v", err)
	}
	again()
}
