package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/testutil/pgtest"
)

// The test binary doubles as a helper process: with helperMode set it runs one role of a cross-process test
// (see helperMain) instead of the tests.
const (
	helperMode = "STIX_STORE_TEST_MODE"
	helperHome = "STIX_STORE_TEST_HOME"
	helperArg  = "STIX_STORE_TEST_ARG"
	helperDB   = "STIX_STORE_TEST_DB"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperMode); mode != "" {
		loc := Location{Home: os.Getenv(helperHome), DB: os.Getenv(helperDB), DBOrigin: helperDB}
		if err := helperMain(mode, loc, os.Getenv(helperArg)); err != nil {
			fmt.Fprintf(os.Stderr, "helper %s: %v\n", mode, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

// helperMain runs one helper role. Roles talk to the test through lines: they print what they reached on
// stdout and wait for a line on stdin where the test must decide the order.
func helperMain(mode string, loc Location, arg string) error {
	ctx := context.Background()
	s, err := OpenAt(ctx, loc)
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
	case "lease-race": // when told, try to take lease arg as this process, and say whether it won
		fmt.Println("ready")
		if err := waitGo(); err != nil {
			return err
		}
		_, err := s.AcquireLease(ctx, arg, fmt.Sprintf("pid-%d", os.Getpid()), time.Hour)
		switch {
		case err == nil:
			fmt.Println("won")
		case errors.Is(err, ErrLeaseHeld):
			fmt.Println("lost")
		default:
			return err
		}
		return nil
	case "lease-hold": // take lease arg with a short TTL and keep it until killed, renewing when told
		if _, err := s.AcquireLease(ctx, arg, "holder", heldLeaseTTL); err != nil {
			return err
		}
		fmt.Println("leased")
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
func startHelper(t *testing.T, mode string, loc Location, arg string) *helper {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A safety net against a hung helper, not a timing assertion.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), helperMode+"="+mode, helperHome+"="+loc.Home, helperDB+"="+loc.DB,
		helperArg+"="+arg)
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
	forEachBackend(t, func(t *testing.T, loc Location) {
		a, b := startHelper(t, "write", loc, "a"), startHelper(t, "write", loc, "b")
		a.expect("ready")
		b.expect("ready")
		a.tell()
		b.tell()
		a.wait()
		b.wait()
		assertWritten(t, openTest(t, loc), 2, 24)
	})
}

// TestLockClusterSerialisesProcesses plays two `stix launch -c same`: the second finds the lock held, waits, and
// once it has the lock sees the cluster the first brought UP. The first writes only after the second is
// waiting, so the second can see UP only if it really waited.
func TestLockClusterSerialisesProcesses(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc Location) {
		first := startHelper(t, "lock-then-launch", loc, "same")
		first.expect("locked")
		second := startHelper(t, "wait-then-read", loc, "same")
		second.expect("waiting")
		first.tell()
		first.wait()
		second.expect(string(StatusUp))
		second.wait()
	})
}

// TestLockReleasedWhenHolderIsKilled kills (SIGKILL) a process that holds a cluster lock: the lock is freed,
// by the kernel (lock files) or by the PostgreSQL server when the holder's connection drops.
func TestLockReleasedWhenHolderIsKilled(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc Location) {
		ctx := context.Background()
		s := openTest(t, loc)
		holder := startHelper(t, "hold", loc, "c")
		holder.expect("locked")
		if _, err := s.TryLockCluster(ctx, "c"); !IsLocked(err) {
			t.Fatalf("TryLockCluster while another process holds the lock: %v, want ErrLocked", err)
		}
		if err := holder.cmd.Process.Kill(); err != nil { // SIGKILL: no chance to unlock
			t.Fatal(err)
		}
		holder.cmd.Wait()
		// PostgreSQL frees the lock once its backend sees the connection closed, a moment after the process is
		// reaped: wait for the lock (the timeout is a safety net against a lock never freed, not a timing check).
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		unlock, err := s.LockCluster(wctx, "c")
		if err != nil {
			t.Fatalf("LockCluster after the holder was killed: %v", err)
		}
		unlock()
	})
}

func TestTryLockClusterInProcess(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc Location) {
		ctx := context.Background()
		s := openTest(t, loc)
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
	})
}
