// Package leased runs one goroutine (a runner) per item — a managed job, a service — while this process holds
// the item's store lease, so that two API servers over one database never run the same item and a server that
// dies has its items taken over: each runner is started once under its lease, the leases of all runners are
// renewed together every third of their TTL, a runner whose lease is lost is stopped, a periodic scan starts
// runners for the items no live controller runs (a dead predecessor's leases, over the same host and server
// directory, are taken over at once: internal/leaseholder), and Close stops every runner and releases its lease.
package leased

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stix-run/stix/internal/leaseholder"
	"github.com/stix-run/stix/internal/store"
)

// ErrLeaseLost is the cause a runner's context ends with when its lease was lost, unless Options.Lost is set.
var ErrLeaseLost = errors.New("this controller lost the lease")

// Runner is one item's work. Run returns when the item is done or the context the runner was made with ends;
// the runner's lease is released then.
type Runner interface {
	Run()
}

// Options configure Runners. State, Kind, Dir, LeasePrefix, Key, Pending and New are required.
type Options[K comparable, R Runner] struct {
	// State is the store that holds the leases.
	State store.Store
	// Kind ("jobs", "services") and Dir (the server's directory) name this process as a lease holder
	// (leaseholder.Prefix): a holder of the same kind, host and directory that is gone is a dead predecessor.
	Kind, Dir string
	// LeasePrefix starts every item's lease name; Key(k) is the rest of item k's.
	LeasePrefix string
	Key         func(K) string
	// TTL is how long a lease lasts unless renewed (renewed every third of it); 30 s by default.
	TTL time.Duration
	// Scan is how often Pending is asked for items to run; 10 s by default.
	Scan time.Duration
	// CallTimeout bounds each store call of a scan or take; 2 min by default.
	CallTimeout time.Duration
	// Log receives warnings; discarded when nil.
	Log *slog.Logger
	// Pending lists the items that should be running (unfinished jobs, services): each one whose lease no
	// other live holder has is taken.
	Pending func(ctx context.Context) ([]K, error)
	// New makes item k's runner. ctx ends when the runner must stop: with cause Lost when the lease was lost,
	// with the cause given to Stop, or canceled by Close.
	New func(ctx context.Context, k K) R
	// Renewed, when set, is told after each renewal the items whose leases are still held (a few hundred at
	// once): where a controller looks for what was asked of its items through another server.
	Renewed func(ctx context.Context, held []K) error
	// Lost is the cause of a runner's stop when its lease is lost; ErrLeaseLost by default.
	Lost error
}

// Runners is the set of runners this process runs, keyed by item.
type Runners[K comparable, R Runner] struct {
	opts   Options[K, R]
	holder string
	// prefix is shared by the holders of this kind, host and server directory (leaseholder.Prefix).
	prefix string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	running map[K]*entry[R]
	closed  bool

	scans atomic.Int64
}

type entry[R Runner] struct {
	r    R
	stop context.CancelCauseFunc
}

// New returns the set, with no runner; Start starts its scan and renewals, Take starts one item's runner.
func New[K comparable, R Runner](opts Options[K, R]) *Runners[K, R] {
	if opts.TTL <= 0 {
		opts.TTL = 30 * time.Second
	}
	if opts.Scan <= 0 {
		opts.Scan = 10 * time.Second
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 2 * time.Minute
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Lost == nil {
		opts.Lost = ErrLeaseLost
	}
	prefix := leaseholder.Prefix(opts.Kind, opts.Dir)
	g := &Runners[K, R]{opts: opts, prefix: prefix, holder: leaseholder.New(prefix), running: map[K]*entry[R]{}}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	return g
}

// Holder is the name this process holds its leases under.
func (g *Runners[K, R]) Holder() string { return g.holder }

// Scans is how many scans have ended, for tests.
func (g *Runners[K, R]) Scans() int64 { return g.scans.Load() }

// Len is the number of runners running now.
func (g *Runners[K, R]) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.running)
}

// Get returns item k's runner, if this process runs it.
func (g *Runners[K, R]) Get(k K) (R, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if e := g.running[k]; e != nil {
		return e.r, true
	}
	var zero R
	return zero, false
}

// Stop ends the context of item k's runner, if this process runs it, with cause.
func (g *Runners[K, R]) Stop(k K, cause error) {
	g.mu.Lock()
	e := g.running[k]
	g.mu.Unlock()
	if e != nil {
		e.stop(cause)
	}
}

// Start scans for items to run at once and then every Scan, and renews the runners' leases every TTL/3.
func (g *Runners[K, R]) Start() {
	g.wg.Add(2)
	go func() {
		defer g.wg.Done()
		g.keepLeases()
	}()
	go func() {
		defer g.wg.Done()
		t := time.NewTicker(g.opts.Scan)
		defer t.Stop()
		for {
			g.scan()
			select {
			case <-g.ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// scan takes every pending item that this process does not run and no other live holder has.
func (g *Runners[K, R]) scan() {
	defer g.scans.Add(1)
	ctx, cancel := context.WithTimeout(g.ctx, g.opts.CallTimeout)
	defer cancel()
	items, err := g.opts.Pending(ctx)
	if err != nil {
		if g.ctx.Err() == nil {
			g.opts.Log.Warn(g.opts.Kind+": list items to run", "err", err)
		}
		return
	}
	// An item whose lease another live server holds is that server's: not even tried.
	live, err := store.LiveLeases(ctx, g.opts.State, g.opts.LeasePrefix)
	if err != nil {
		live = nil
	}
	for _, k := range items {
		if h, ok := live[g.leaseName(k)]; ok && h != g.holder && !strings.HasPrefix(h, g.prefix) {
			continue
		}
		g.Take(k)
	}
}

// Take starts item k's runner if this process does not run it already and can take its lease: a free or
// lapsed one, or a dead predecessor's. It reports whether the item runs here now.
func (g *Runners[K, R]) Take(k K) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	if g.running[k] != nil {
		return true
	}
	name := g.leaseName(k)
	ctx, cancel := context.WithTimeout(g.ctx, g.opts.CallTimeout)
	_, err := g.opts.State.AcquireLease(ctx, name, g.holder, g.opts.TTL)
	if errors.Is(err, store.ErrLeaseHeld) && leaseholder.ReleaseIfDead(ctx, g.opts.State, name, g.prefix, g.holder) {
		_, err = g.opts.State.AcquireLease(ctx, name, g.holder, g.opts.TTL)
	}
	cancel()
	if err != nil {
		if !errors.Is(err, store.ErrLeaseHeld) && g.ctx.Err() == nil {
			g.opts.Log.Warn(g.opts.Kind+": take lease", "lease", name, "err", err)
		}
		return false
	}
	rctx, stop := context.WithCancelCause(g.ctx)
	e := &entry[R]{r: g.opts.New(rctx, k), stop: stop}
	g.running[k] = e
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer stop(nil)
		e.r.Run()
		g.mu.Lock()
		delete(g.running, k)
		g.mu.Unlock()
		// Released only once the item's runner ends (the item is done, its lease lost, or this process
		// stops): another server may then take it.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(g.ctx), 10*time.Second)
		defer cancel()
		if err := g.opts.State.ReleaseLease(ctx, name, g.holder); err != nil {
			g.opts.Log.Warn(g.opts.Kind+": release lease", "lease", name, "err", err)
		}
	}()
	return true
}

// keepLeases renews the leases of every runner, all at once every third of their TTL, and stops the runner of
// an item whose lease was lost. When renewals have failed for most of a TTL (the leases are about to lapse, and
// another server may take the items), every runner stops.
func (g *Runners[K, R]) keepLeases() {
	t := time.NewTicker(g.opts.TTL / 3)
	defer t.Stop()
	renewed := time.Now()
	for {
		select {
		case <-g.ctx.Done():
			return
		case <-t.C:
		}
		g.mu.Lock()
		running := make(map[K]*entry[R], len(g.running))
		for k, e := range g.running {
			running[k] = e
		}
		g.mu.Unlock()
		if err := g.renew(running); err != nil {
			if g.ctx.Err() != nil {
				return
			}
			g.opts.Log.Warn(g.opts.Kind+": renew leases", "err", err)
			if time.Since(renewed) > g.opts.TTL*5/6 {
				g.opts.Log.Warn(g.opts.Kind + ": leases not renewed in time; stopping every runner")
				for _, e := range running {
					e.stop(g.opts.Lost)
				}
			}
			continue
		}
		renewed = time.Now()
	}
}

// renewChunk bounds the names of one renewal statement.
const renewChunk = 500

// renew renews the leases of running, a chunk at a time, stops the runners whose leases were lost and tells
// Renewed about the rest.
func (g *Runners[K, R]) renew(running map[K]*entry[R]) error {
	ctx, cancel := context.WithTimeout(g.ctx, g.opts.TTL/3)
	defer cancel()
	keys := make([]K, 0, len(running))
	for k := range running {
		keys = append(keys, k)
	}
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), renewChunk)]
		keys = keys[len(chunk):]
		names := make([]string, len(chunk))
		for i, k := range chunk {
			names[i] = g.leaseName(k)
		}
		got, err := store.RenewLeases(ctx, g.opts.State, g.holder, names, g.opts.TTL)
		if err != nil {
			return err
		}
		held := make(map[string]bool, len(got))
		for _, n := range got {
			held[n] = true
		}
		kept := chunk[:0]
		for _, k := range chunk {
			if held[g.leaseName(k)] {
				kept = append(kept, k)
			} else {
				running[k].stop(g.opts.Lost)
			}
		}
		if g.opts.Renewed != nil && len(kept) > 0 {
			if err := g.opts.Renewed(ctx, kept); err != nil && g.ctx.Err() == nil {
				g.opts.Log.Warn(g.opts.Kind+": after renewing leases", "err", err)
			}
		}
	}
	return nil
}

// Close stops every runner (their contexts are canceled), waits for them and their lease releases, and stops
// the scan and renewals. Nothing more is taken after it.
func (g *Runners[K, R]) Close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.cancel()
	g.wg.Wait()
}

func (g *Runners[K, R]) leaseName(k K) string { return g.opts.LeasePrefix + g.opts.Key(k) }
