package agent

import (
	"sync"
	"time"
)

// idleState is the autostop timer's state. Its methods are pure: they take the time and return the next one.
type idleState struct {
	cfg       AutostopConfig
	busy      bool      // some job is unfinished
	idleSince time.Time // when the cluster last became idle (or autostop was set)
	fired     bool      // the cluster was stopped for this idle period
}

// deadline is when autostop is due; ok is false when nothing is due (off, busy, no way for the nodes to stop,
// already fired). Like SkyPilot's skylet, which checks autostop once a minute, it never fires sooner than one
// unit into an idle period: "0 idle minutes" (`launch --down`) means at the first check after the jobs are
// done, which also leaves the client that just submitted a job the time to start following it.
func (s idleState) deadline(unit time.Duration) (time.Time, bool) {
	if s.cfg.IdleMinutes < 0 || s.busy || s.fired || s.cfg.Exit == "" {
		return time.Time{}, false
	}
	return s.idleSince.Add(time.Duration(max(s.cfg.IdleMinutes, 1)) * unit), true
}

// configure sets a new autostop setting; like SkyPilot, setting it restarts the idle period.
func (s idleState) configure(cfg AutostopConfig, now time.Time) idleState {
	s.cfg, s.idleSince, s.fired = cfg, now, false
	return s
}

// setBusy records whether a job is unfinished. Becoming idle starts an idle period; becoming busy ends it, so
// the hook may fire again after the next one.
func (s idleState) setBusy(busy bool, now time.Time) idleState {
	switch {
	case busy && !s.busy:
		s.fired = false
	case !busy && s.busy:
		s.idleSince = now
	}
	s.busy = busy
	return s
}

// autostopper drives idleState with a timer and stops the cluster when it is due.
type autostopper struct {
	clock clock
	unit  time.Duration
	fire  func(down bool, exit NodeExit) // stops the cluster (head.selfStop); must not block

	mu       sync.Mutex
	st       idleState
	timer    stopper
	jobs     bool // some job is unfinished
	watchers int  // clients following a job's logs: the cluster is in use while they watch
}

func newAutostopper(c clock, unit time.Duration, fire func(bool, NodeExit)) *autostopper {
	return &autostopper{clock: c, unit: unit, fire: fire,
		st: idleState{cfg: AutostopConfig{IdleMinutes: -1}, idleSince: c.Now()}}
}

func (a *autostopper) configure(cfg AutostopConfig) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.st = a.st.configure(cfg, a.clock.Now())
	a.rearm()
}

func (a *autostopper) setBusy(busy bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.jobs = busy
	a.update()
}

// watch marks a client following logs; the cluster is not idle until every such client is done (release).
func (a *autostopper) watch() (release func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.watchers++
	a.update()
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			defer a.mu.Unlock()
			a.watchers--
			a.update()
		})
	}
}

// update applies the combined busy state (jobs or watchers). Called with mu held.
func (a *autostopper) update() {
	busy := a.jobs || a.watchers > 0
	if busy == a.st.busy {
		return
	}
	a.st = a.st.setBusy(busy, a.clock.Now())
	a.rearm()
}

func (a *autostopper) status() AutostopStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := AutostopStatus{AutostopConfig: a.st.cfg, Busy: a.st.busy, Fired: a.st.fired}
	if !a.st.busy {
		t := a.st.idleSince.UTC()
		out.IdleSince = &t
	}
	if d, ok := a.st.deadline(a.unit); ok {
		d = d.UTC()
		out.FiresAt = &d
	}
	return out
}

func (a *autostopper) config() AutostopConfig {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.st.cfg
}

// stop cancels the timer for good (agent shutdown).
func (a *autostopper) stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.timer != nil {
		a.timer.Stop()
	}
	a.fire = func(bool, NodeExit) {}
}

// rearm replaces the timer with one for the current deadline. Called with mu held.
func (a *autostopper) rearm() {
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	d, ok := a.st.deadline(a.unit)
	if !ok {
		return
	}
	a.timer = a.clock.AfterFunc(max(d.Sub(a.clock.Now()), 0), a.onTimer)
}

func (a *autostopper) onTimer() {
	a.mu.Lock()
	d, ok := a.st.deadline(a.unit)
	if !ok {
		a.mu.Unlock()
		return
	}
	if a.clock.Now().Before(d) {
		// A stale timer from before a change that moved the deadline later.
		a.rearm()
		a.mu.Unlock()
		return
	}
	a.st.fired = true
	down, exit, fire := a.st.cfg.Down, a.st.cfg.Exit, a.fire
	a.mu.Unlock()
	fire(down, exit)
}
