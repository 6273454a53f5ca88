package agent

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock whose time moves only when the test advances it; due timers fire in Advance.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) stopper {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

// Advance moves time forward by d, firing due timers in order.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *fakeTimer
		for _, t := range c.timers {
			if !t.stopped && !t.at.After(end) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		if next == nil {
			c.now = end
			c.mu.Unlock()
			return
		}
		next.stopped = true
		c.now = next.at
		c.mu.Unlock()
		next.f()
	}
}

type hookRecorder struct {
	mu    sync.Mutex
	calls []string
}

func (h *hookRecorder) run(argv []string, down bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	action := "stop"
	if down {
		action = "down"
	}
	h.calls = append(h.calls, strings.Join(argv, " ")+" "+action)
}

func (h *hookRecorder) get() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.calls)
}

func TestAutostopTimer(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	hooks := &hookRecorder{}
	a := newAutostopper(clk, time.Minute, hooks.run)
	stopHook, downHook := []string{"stix", "stop", "-y", "c"}, []string{"stix", "down", "-y", "c"}

	a.configure(AutostopConfig{IdleMinutes: 10, Hook: stopHook, DownHook: downHook})
	clk.Advance(9*time.Minute + 59*time.Second)
	if got := hooks.get(); len(got) != 0 {
		t.Fatalf("fired early: %v", got)
	}
	clk.Advance(time.Second)
	if got := hooks.get(); !slices.Equal(got, []string{"stix stop -y c stop"}) {
		t.Fatalf("after 10 idle minutes: %v", got)
	}
	if st := a.status(); !st.Fired || st.FiresAt != nil {
		t.Errorf("status after firing = %+v", st)
	}
	clk.Advance(time.Hour)
	if got := hooks.get(); len(got) != 1 {
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
	if got := hooks.get(); len(got) != 1 {
		t.Fatalf("fired before 10 minutes of the new idle period: %v", got)
	}
	clk.Advance(time.Minute)
	if got := hooks.get(); len(got) != 2 {
		t.Fatalf("did not fire after the new idle period: %v", got)
	}

	// Autodown uses the down hook; setting autostop restarts the idle period.
	a.configure(AutostopConfig{IdleMinutes: 5, Down: true, Hook: stopHook, DownHook: downHook})
	clk.Advance(5 * time.Minute)
	if got := hooks.get(); len(got) != 3 || got[2] != "stix down -y c down" {
		t.Fatalf("autodown: %v", got)
	}

	// Off (-1) never fires; a config without hooks neither.
	a.setBusy(true)
	a.setBusy(false)
	a.configure(AutostopConfig{IdleMinutes: -1, Hook: stopHook})
	a.configure(AutostopConfig{IdleMinutes: 1})
	clk.Advance(24 * time.Hour)
	if got := hooks.get(); len(got) != 3 {
		t.Fatalf("fired while off or without a hook: %v", got)
	}
}

func TestIdleStateIsPure(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := idleState{}.configure(AutostopConfig{IdleMinutes: 0, Hook: []string{"x"}}, t0)
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
	clk := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	fired := make(chan struct{}, 4)
	a := newAutostopper(clk, time.Minute, func([]string, bool) { fired <- struct{}{} })
	a.configure(AutostopConfig{IdleMinutes: 0, Down: true, Hook: []string{"x"}})
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

// TestAutostopHookRuns drives a real agent with a short idle unit: the hook runs, detached, once per idle period,
// and again after a job has come and gone.
func TestAutostopHookRuns(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "auto", []nodeOpts{{cpus: 1}}, "--idle-unit", "50ms")
	fired := filepath.Join(t.TempDir(), "fired")
	hook := []string{"sh", "-c", `echo "$STIX_AUTOSTOP_ACTION" >> ` + fired}
	st, err := c.head.SetAutostop(ctxT(t), AutostopRequest{IdleMinutes: 2, Hook: hook})
	if err != nil || st.IdleMinutes != 2 || st.FiresAt == nil {
		t.Fatalf("set autostop = %+v, %v", st, err)
	}
	lines := func() []string {
		b, _ := os.ReadFile(fired)
		return strings.Fields(string(b))
	}
	poll(t, 10*time.Second, "the hook to run", func() bool { return len(lines()) == 1 })
	if got := lines(); got[0] != "stop" {
		t.Errorf("hook saw action %q", got[0])
	}
	poll(t, 10*time.Second, "status to say fired", func() bool {
		st, err := c.head.Autostop(ctxT(t))
		return err == nil && st.Fired
	})
	id := c.submit(t, JobSpec{Run: "true"})
	c.waitStatus(t, id, StatusSucceeded)
	poll(t, 10*time.Second, "the hook to run after the next idle period", func() bool { return len(lines()) == 2 })
	if _, err := c.head.SetAutostop(ctxT(t), AutostopRequest{IdleMinutes: 1, Down: true}); err != nil {
		t.Fatal(err)
	}
	poll(t, 10*time.Second, "the autodown hook", func() bool { return len(lines()) == 3 })
	if got := lines(); got[2] != "down" {
		t.Errorf("autodown hook saw %q", got[2])
	}
	st, err = c.head.SetAutostop(ctxT(t), AutostopRequest{Cancel: true})
	if err != nil || st.IdleMinutes != -1 || st.FiresAt != nil {
		t.Errorf("cancel autostop = %+v, %v", st, err)
	}
}
