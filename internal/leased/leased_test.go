package leased

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/agent/proc"
	"github.com/stix-run/stix/internal/leaseholder"
	"github.com/stix-run/stix/internal/store"
)

// item is a test runner: it runs until its context ends (or it is told to finish) and records why it stopped.
type item struct {
	key    string
	ctx    context.Context
	finish chan struct{}
	done   chan struct{}
	cause  error
}

func (it *item) Run() {
	defer close(it.done)
	select {
	case <-it.ctx.Done():
		it.cause = context.Cause(it.ctx)
	case <-it.finish:
	}
}

// world is a store and a list of pending items that the sets under test scan.
type world struct {
	dir string
	st  store.Store

	mu      sync.Mutex
	pending []string
	made    map[string][]*item // every runner made, per key, by every set
	renewed map[string]int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &world{dir: dir, st: st, made: map[string][]*item{}, renewed: map[string]int{}}
}

func (w *world) setPending(keys ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending = keys
}

// set returns a set of runners over w's store for server directory dir.
func (w *world) set(t *testing.T, dir string, ttl, scan time.Duration) *Runners[string, *item] {
	t.Helper()
	g := New(Options[string, *item]{
		State: w.st, Kind: "test", Dir: dir, LeasePrefix: "item/", Key: func(k string) string { return k },
		TTL: ttl, Scan: scan, CallTimeout: 10 * time.Second,
		Pending: func(context.Context) ([]string, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			return slices.Clone(w.pending), nil
		},
		New: func(ctx context.Context, k string) *item {
			it := &item{key: k, ctx: ctx, finish: make(chan struct{}), done: make(chan struct{})}
			w.mu.Lock()
			w.made[k] = append(w.made[k], it)
			w.mu.Unlock()
			return it
		},
		Renewed: func(_ context.Context, held []string) error {
			w.mu.Lock()
			defer w.mu.Unlock()
			for _, k := range held {
				w.renewed[k]++
			}
			return nil
		},
	})
	t.Cleanup(g.Close)
	return g
}

func (w *world) runners(k string) []*item {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.made[k])
}

func (w *world) renewals(k string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.renewed[k]
}

// holder is who holds the named lease now ("" when no one does, or it was released or lapsed).
func (w *world) holder(t *testing.T, name string) string {
	t.Helper()
	live, err := store.LiveLeases(context.Background(), w.st, name)
	if err != nil {
		t.Fatal(err)
	}
	return live[name]
}

// until polls cond, failing the test after a deadline.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitDone(t *testing.T, it *item) {
	t.Helper()
	select {
	case <-it.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("runner %s never stopped", it.key)
	}
}

// The scan starts one runner per pending item, once, under the item's lease; a runner that ends releases its
// lease; Close stops the rest and releases theirs.
func TestScanTakeOnceAndClose(t *testing.T) {
	w := newWorld(t)
	w.setPending("a", "b")
	g := w.set(t, w.dir, time.Hour, time.Hour)
	g.Start()
	until(t, "both runners", func() bool { return g.Len() == 2 })
	if !g.Take("a") || len(w.runners("a")) != 1 {
		t.Fatalf("take of a running item: made %d runners, want 1", len(w.runners("a")))
	}
	for _, k := range []string{"a", "b"} {
		if h := w.holder(t, "item/"+k); h != g.Holder() {
			t.Fatalf("lease of %s held by %q, want %q", k, h, g.Holder())
		}
	}
	a := w.runners("a")[0]
	if r, ok := g.Get("a"); !ok || r != a {
		t.Fatalf("Get(a) = %v %v", r, ok)
	}
	close(a.finish)
	waitDone(t, a)
	until(t, "a's lease released", func() bool { return w.holder(t, "item/a") == "" })
	if _, ok := g.Get("a"); ok {
		t.Fatal("a finished runner is still listed")
	}
	b := w.runners("b")[0]
	g.Close()
	waitDone(t, b)
	if !errors.Is(b.cause, context.Canceled) {
		t.Errorf("b stopped with %v, want canceled", b.cause)
	}
	if h := w.holder(t, "item/b"); h != "" {
		t.Errorf("b's lease held by %q after Close", h)
	}
	if g.Take("c") || len(w.runners("c")) != 0 {
		t.Error("a closed set took an item")
	}
}

// A live server's lease is left alone, by the scan and by Take; once it is released the next scan takes it.
func TestLiveHolderLeftAlone(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	other := leaseholder.New(leaseholder.Prefix("test", w.dir+"-other"))
	if _, err := w.st.AcquireLease(ctx, "item/x", other, time.Hour); err != nil {
		t.Fatal(err)
	}
	w.setPending("x")
	g := w.set(t, w.dir, time.Hour, 20*time.Millisecond)
	g.Start()
	until(t, "three scans", func() bool { return g.Scans() >= 3 })
	if g.Take("x") || g.Len() != 0 || len(w.runners("x")) != 0 {
		t.Fatal("took an item whose lease a live server holds")
	}
	if err := w.st.ReleaseLease(ctx, "item/x", other); err != nil {
		t.Fatal(err)
	}
	until(t, "x taken", func() bool { return g.Len() == 1 })
}

// A predecessor over the same host and directory that is gone (kill -9) has its leases taken over at once; a
// live one of the same directory keeps them.
func TestTakeOverDeadPredecessor(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	prefix := leaseholder.Prefix("test", w.dir)
	cmd := exec.Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	ticks, err := proc.StartTicks(pid)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	dead := fmt.Sprintf("%s%d|%d|x", prefix, pid, ticks)
	if _, err := w.st.AcquireLease(ctx, "item/d", dead, time.Hour); err != nil {
		t.Fatal(err)
	}
	live := leaseholder.New(prefix) // this very process: alive
	if _, err := w.st.AcquireLease(ctx, "item/l", live, time.Hour); err != nil {
		t.Fatal(err)
	}
	w.setPending("d", "l")
	g := w.set(t, w.dir, time.Hour, time.Hour)
	g.Start()
	until(t, "d taken over", func() bool { _, ok := g.Get("d"); return ok })
	until(t, "a scan", func() bool { return g.Scans() >= 1 })
	if h := w.holder(t, "item/d"); h != g.Holder() {
		t.Errorf("d's lease held by %q, want %q", h, g.Holder())
	}
	if _, ok := g.Get("l"); ok || w.holder(t, "item/l") != live {
		t.Error("took the lease of a live holder of the same directory")
	}
}

// Leases are renewed every TTL/3 (Renewed hears of the held ones); a runner whose lease is taken by another
// holder is stopped with Lost, its lease left to the new holder, and a Stop reaches the runner with its cause.
func TestRenewAndLostLease(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.setPending("r", "s", "q")
	ttl := 300 * time.Millisecond
	g := w.set(t, w.dir, ttl, time.Hour)
	g.Start()
	until(t, "three runners", func() bool { return g.Len() == 3 })
	until(t, "renewals", func() bool { return w.renewals("r") >= 3 && w.renewals("s") >= 3 })
	// Renewed every TTL/3: after several TTLs the lease is still this set's.
	if h := w.holder(t, "item/r"); h != g.Holder() {
		t.Fatalf("r's lease held by %q after renewals", h)
	}
	// Another server takes s's lease (as after a lapse): the runner stops at the next renewal.
	thief := leaseholder.New(leaseholder.Prefix("test", w.dir+"-thief"))
	if err := w.st.ReleaseLease(ctx, "item/s", g.Holder()); err != nil {
		t.Fatal(err)
	}
	if _, err := w.st.AcquireLease(ctx, "item/s", thief, time.Hour); err != nil {
		t.Fatal(err)
	}
	s := w.runners("s")[0]
	waitDone(t, s)
	if !errors.Is(s.cause, ErrLeaseLost) {
		t.Errorf("s stopped with %v, want %v", s.cause, ErrLeaseLost)
	}
	until(t, "s forgotten", func() bool { _, ok := g.Get("s"); return !ok })
	if h := w.holder(t, "item/s"); h != thief {
		t.Errorf("s's lease held by %q, want the thief's", h)
	}
	why := errors.New("asked elsewhere")
	g.Stop("q", why)
	q := w.runners("q")[0]
	waitDone(t, q)
	if !errors.Is(q.cause, why) {
		t.Errorf("q stopped with %v, want %v", q.cause, why)
	}
	if _, ok := g.Get("r"); !ok {
		t.Error("r stopped too")
	}
}

// When renewals keep failing for most of a TTL (the store is gone), every runner stops: another server may
// take the items once their leases lapse.
func TestRenewalsFailingStopEveryRunner(t *testing.T) {
	w := newWorld(t)
	w.setPending("a", "b")
	g := w.set(t, w.dir, 300*time.Millisecond, time.Hour)
	g.Start()
	until(t, "two runners", func() bool { return g.Len() == 2 })
	w.st.Close()
	for _, k := range []string{"a", "b"} {
		it := w.runners(k)[0]
		waitDone(t, it)
		if !errors.Is(it.cause, ErrLeaseLost) {
			t.Errorf("%s stopped with %v, want %v", k, it.cause, ErrLeaseLost)
		}
	}
}
