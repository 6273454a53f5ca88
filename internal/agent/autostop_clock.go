package agent

import (
	"context"
	"os"
	"strings"
	"sync"
	"time"
)

// clock is the time source of the autostop timer: the real one, or one that tests move (manualClock,
// fileClock).
type clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) stopper
}

type stopper interface{ Stop() bool }

type realClock struct{}

func (realClock) Now() time.Time                              { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) }

// manualClock is a clock whose time moves only when it is told to; due timers fire in Advance and AdvanceTo.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
}

type manualTimer struct {
	c       *manualClock
	at      time.Time
	f       func()
	stopped bool
}

func newManualClock(now time.Time) *manualClock { return &manualClock{now: now} }

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) stopper {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

// Advance moves time forward by d, firing due timers in order.
func (c *manualClock) Advance(d time.Duration) { c.AdvanceTo(c.Now().Add(d)) }

// AdvanceTo moves time forward to end (never back), firing due timers in order, each at its own time.
func (c *manualClock) AdvanceTo(end time.Time) {
	for {
		c.mu.Lock()
		if end.Before(c.now) {
			c.mu.Unlock()
			return
		}
		var next *manualTimer
		live := c.timers[:0]
		for _, t := range c.timers {
			if t.stopped {
				continue
			}
			live = append(live, t)
			if !t.at.After(end) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		c.timers = live
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

// fileClockPoll is how often a fileClock reads its file.
const fileClockPoll = 20 * time.Millisecond

// newFileClock returns the agent's clock under STIX_TEST_CLOCK: the agent's start time plus the duration written
// in the file at path ("90s", "5m"; a missing or unreadable file counts as 0). Time moves only when a test writes
// a later duration there, so that end-to-end scripts drive autostop without depending on how fast they run. The
// file is read until ctx ends.
func newFileClock(ctx context.Context, path string, start time.Time) *manualClock {
	c := newManualClock(start.Add(readClockFile(path)))
	go func() {
		t := time.NewTicker(fileClockPoll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				c.AdvanceTo(start.Add(readClockFile(path)))
			}
		}
	}()
	return c
}

func readClockFile(path string) time.Duration {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	d, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil || d < 0 {
		return 0
	}
	return d
}
