package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fireRecorder records what the autostop timer asked for.
type fireRecorder struct {
	mu    sync.Mutex
	calls []string
}

func (h *fireRecorder) fire(down bool, exit NodeExit) {
	h.mu.Lock()
	defer h.mu.Unlock()
	action := "stop"
	if down {
		action = "down"
	}
	h.calls = append(h.calls, action+" "+string(exit))
}

func (h *fireRecorder) get() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.calls)
}

func TestAutostopTimer(t *testing.T) {
	t.Parallel()
	clk := newManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	fires := &fireRecorder{}
	a := newAutostopper(clk, time.Minute, fires.fire)

	a.configure(AutostopConfig{IdleMinutes: 10, Exit: ExitContainer})
	clk.Advance(9*time.Minute + 59*time.Second)
	if got := fires.get(); len(got) != 0 {
		t.Fatalf("fired early: %v", got)
	}
	clk.Advance(time.Second)
	if got := fires.get(); !slices.Equal(got, []string{"stop container"}) {
		t.Fatalf("after 10 idle minutes: %v", got)
	}
	if st := a.status(); !st.Fired || st.FiresAt != nil {
		t.Errorf("status after firing = %+v", st)
	}
	clk.Advance(time.Hour)
	if got := fires.get(); len(got) != 1 {
		t.Fatalf("fired again in the same idle period: %v", got)
	}

	// A job arrives: the timer stops while busy and restarts from the moment the cluster is idle again.
	a.setBusy(true)
	if st := a.status(); st.Fired || st.FiresAt != nil || !st.Busy {
		t.Errorf("status while busy = %+v", st)
	}
	clk.Advance(time.Hour)
	a.setBusy(false)
	clk.Advance(9 * time.Minute)
	if got := fires.get(); len(got) != 1 {
		t.Fatalf("fired before 10 minutes of the new idle period: %v", got)
	}
	clk.Advance(time.Minute)
	if got := fires.get(); len(got) != 2 {
		t.Fatalf("did not fire after the new idle period: %v", got)
	}

	// Autodown; setting autostop restarts the idle period.
	clk.Advance(3 * time.Minute)
	a.configure(AutostopConfig{IdleMinutes: 5, Down: true, Exit: ExitAgent})
	clk.Advance(4 * time.Minute)
	if got := fires.get(); len(got) != 2 {
		t.Fatalf("setting autostop did not restart the idle period: %v", got)
	}
	clk.Advance(time.Minute)
	if got := fires.get(); len(got) != 3 || got[2] != "down agent" {
		t.Fatalf("autodown: %v", got)
	}

	// Off (-1) never fires; a cluster whose nodes cannot stop themselves (no Exit) neither.
	a.setBusy(true)
	a.setBusy(false)
	a.configure(AutostopConfig{IdleMinutes: -1, Exit: ExitAgent})
	a.configure(AutostopConfig{IdleMinutes: 1})
	clk.Advance(24 * time.Hour)
	if got := fires.get(); len(got) != 3 {
		t.Fatalf("fired while off or without an exit: %v", got)
	}
}

func TestIdleStateIsPure(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := idleState{}.configure(AutostopConfig{IdleMinutes: 0, Exit: ExitAgent}, t0)
	if d, ok := s.deadline(time.Minute); !ok || !d.Equal(t0.Add(time.Minute)) {
		t.Errorf("idle 0: deadline %v %v, want one unit (the first check) later", d, ok)
	}
	busy := s.setBusy(true, t0.Add(time.Hour))
	if _, ok := busy.deadline(time.Minute); ok {
		t.Error("deadline while busy")
	}
	if _, ok := s.deadline(time.Minute); !ok {
		t.Error("setBusy changed its receiver")
	}
	idle := busy.setBusy(false, t0.Add(2*time.Hour))
	if d, _ := idle.deadline(time.Minute); !d.Equal(t0.Add(2*time.Hour + time.Minute)) {
		t.Errorf("deadline after becoming idle = %v", d)
	}
}

// A client following logs keeps the cluster busy: autodown waits until it has seen the job end.
func TestWatchersKeepBusy(t *testing.T) {
	t.Parallel()
	clk := newManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	fired := make(chan struct{}, 4)
	a := newAutostopper(clk, time.Minute, func(bool, NodeExit) { fired <- struct{}{} })
	a.configure(AutostopConfig{IdleMinutes: 0, Down: true, Exit: ExitAgent})
	release := a.watch()
	clk.Advance(time.Hour)
	select {
	case <-fired:
		t.Fatal("fired while a client was following logs")
	default:
	}
	release()
	release() // idempotent
	clk.Advance(time.Minute)
	select {
	case <-fired:
	default:
		t.Fatal("did not fire one unit after the last watcher left")
	}
}

// TestAutostopStopsNodes drives real agents with a short idle unit: once idle, the head ends every worker's
// node and then its own, each leaving the mark; restarted agents remove it, keep the setting, and autodown
// leaves "down".
func TestAutostopStopsNodes(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "auto", []nodeOpts{{cpus: 1}, {cpus: 1}}, "--idle-unit", "50ms")
	id := c.submit(t, JobSpec{Run: "true", NumNodes: 2})
	c.waitStatus(t, id, StatusSucceeded)
	if _, err := c.head.SetAutostop(ctxT(t), AutostopRequest{IdleMinutes: 2, Exit: "reboot"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown exit: %v, want ErrInvalid", err)
	}
	st, err := c.head.SetAutostop(ctxT(t), AutostopRequest{IdleMinutes: 2, Exit: ExitAgent})
	if err != nil || st.IdleMinutes != 2 || st.FiresAt == nil {
		t.Fatalf("set autostop = %+v, %v", st, err)
	}
	waitStopped := func(want string) {
		t.Helper()
		for i, a := range c.agents {
			if err := a.cmd.Wait(); err != nil {
				t.Errorf("agent %d: %v", i, err)
			}
			a.cmd = nil
			if got := strings.TrimSpace(readFile(t, filepath.Join(a.dir, AutostopMarkFile))); got != want {
				t.Errorf("agent %d mark = %q, want %q", i, got, want)
			}
		}
	}
	waitStopped("stop")

	// `stix start`: the agents come back without the mark, and the head keeps the setting (a minute is long now,
	// so that it does not fire again under the test).
	c.agents[0].args = []string{"--idle-unit", "1h"}
	for _, a := range c.agents {
		a.start()
		if _, err := os.Stat(filepath.Join(a.dir, AutostopMarkFile)); !os.IsNotExist(err) {
			t.Errorf("a started agent kept its mark: %v", err)
		}
	}
	st, err = c.agents[0].client.Autostop(ctxT(t))
	if err != nil || st.IdleMinutes != 2 || st.Exit != ExitAgent || st.Fired {
		t.Fatalf("autostop after restart = %+v, %v", st, err)
	}

	// Autodown, set with the cluster's configuration.
	c = startCluster(t, "autodown", []nodeOpts{{cpus: 1}, {cpus: 1}}, "--idle-unit", "50ms")
	c.cfg.Autostop = &AutostopConfig{IdleMinutes: 0, Down: true, Exit: ExitAgent}
	if err := c.head.Configure(ctxT(t), c.cfg); err != nil {
		t.Fatal(err)
	}
	waitStopped("down")
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEndNode(t *testing.T) {
	t.Parallel()
	ended := 0
	a := &agent{endContainer: func() error { ended++; return nil }}
	if err := a.endNode(ExitAgent); err != nil || ended != 0 {
		t.Errorf("ExitAgent: %v, container ended %d times", err, ended)
	}
	if err := a.endNode(ExitContainer); err != nil || ended != 1 {
		t.Errorf("ExitContainer: %v, container ended %d times", err, ended)
	}
	off := 0
	a.powerOff = func() error { off++; return nil }
	if err := a.endNode(ExitPoweroff); err != nil || off != 1 || ended != 1 {
		t.Errorf("ExitPoweroff: %v, powered off %d times, container ended %d times", err, off, ended)
	}
	if err := validExit(ExitPoweroff, false); err != nil {
		t.Errorf("validExit(poweroff) = %v", err)
	}
}

// The clock of STIX_TEST_CLOCK moves when its file does, and only then; timers fire as it passes them.
func TestFileClock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "clock")
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := newFileClock(ctx, path, start)
	if !c.Now().Equal(start) {
		t.Fatalf("Now without a file = %v, want the start", c.Now())
	}
	fired := make(chan time.Time, 1)
	c.AfterFunc(5*time.Minute, func() { fired <- c.Now() })
	if err := os.WriteFile(path, []byte("4m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	poll(t, 10*time.Second, "the clock to read 4m", func() bool { return c.Now().Equal(start.Add(4 * time.Minute)) })
	select {
	case at := <-fired:
		t.Fatalf("fired at %v, before its time", at)
	default:
	}
	if err := os.WriteFile(path, []byte("1h"), 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-fired:
		if !at.Equal(start.Add(5 * time.Minute)) {
			t.Errorf("fired at %v, want at its own time", at)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not fire when the file moved the clock past it")
	}
}
