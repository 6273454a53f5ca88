package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/leaseholder"
	"github.com/stix-run/stix/internal/store"
)

// Options configure a Controller. Core, State and Dir are required.
type Options struct {
	// Core is the embedded core: the controller launches, watches and tears down job clusters only through it.
	Core api.Client
	// State is the server's state store, where the managed-job tables are.
	State store.Store
	// Dir is the server's directory: each job's task output and controller log are kept under Dir/jobs/ID.
	Dir string
	// Log receives the controller's own messages; discarded when nil.
	Log *slog.Logger
	// Limits bound launch retries; DefaultLimits when zero.
	Limits Limits
	// LeaseTTL is how long a job's lease lasts unless renewed (renewed every third of it); 30 s by default.
	// Another server takes a job over once its controller's lease lapses.
	LeaseTTL time.Duration
	// Scan is how often the controller looks for unfinished jobs that no controller runs; 10 s by default.
	Scan time.Duration
	// LaunchTimeout bounds one launch of a job cluster (30 min), CallTimeout every other call to the core
	// (2 min): no wait is unbounded.
	LaunchTimeout, CallTimeout time.Duration
	// Now is the clock; time.Now by default.
	Now func() time.Time
}

// Controller runs managed jobs inside the API server process: one goroutine per running job, which holds the
// job's lease, launches each task on its job cluster, follows its output and recovers it.
type Controller struct {
	opts   Options
	st     *Store
	holder string
	// holderPrefix is shared by the controllers of this host and server directory: a lease held under it by a
	// process that is gone is a predecessor's (this server killed and restarted), taken over at once.
	holderPrefix string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	running map[int64]*runner
	closed  bool

	scans atomic.Int64 // looks for jobs to run, for tests
}

// New returns a Controller; Start starts it.
func New(opts Options) (*Controller, error) {
	if opts.Core == nil || opts.State == nil || opts.Dir == "" {
		return nil, errors.New("managed-jobs controller: Core, State and Dir are required")
	}
	st, err := OpenStore(opts.State)
	if err != nil {
		return nil, err
	}
	if opts.Limits == (Limits{}) {
		opts.Limits = DefaultLimits
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 30 * time.Second
	}
	if opts.Scan <= 0 {
		opts.Scan = 10 * time.Second
	}
	if opts.LaunchTimeout <= 0 {
		opts.LaunchTimeout = 30 * time.Minute
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 2 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Join(opts.Dir, "jobs"), 0o700); err != nil {
		return nil, fmt.Errorf("managed-jobs controller: %w", err)
	}
	prefix := leaseholder.Prefix("jobs", opts.Dir)
	c := &Controller{opts: opts, st: st, running: map[int64]*runner{}, holderPrefix: prefix,
		holder: leaseholder.New(prefix)}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Start resumes every unfinished job that no live controller runs (after a restart: each re-attaches to its
// cluster, or recovers), then keeps looking for such jobs every Scan, so that a job whose server died is
// taken over once its lease lapses.
func (c *Controller) Start() {
	c.wg.Add(2)
	go func() {
		defer c.wg.Done()
		c.keepLeases()
	}()
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(c.opts.Scan)
		defer t.Stop()
		for {
			c.resume()
			select {
			case <-c.ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// resume starts a runner for every unfinished job this controller does not run and whose lease it can take.
func (c *Controller) resume() {
	defer c.scans.Add(1)
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.CallTimeout)
	defer cancel()
	ids, err := c.st.Unfinished(ctx)
	if err != nil {
		if c.ctx.Err() == nil {
			c.opts.Log.Warn("managed jobs: list unfinished jobs", "err", err)
		}
		return
	}
	// A job whose lease another live server holds is that server's: not even tried.
	live, err := store.LiveLeases(ctx, c.opts.State, leasePrefix)
	if err != nil {
		live = nil
	}
	for _, id := range ids {
		if h, ok := live[leaseName(id)]; ok && h != c.holder && !strings.HasPrefix(h, c.holderPrefix) {
			continue
		}
		c.startRunner(id)
	}
}

// keepLeases renews the leases of every job this controller runs, all at once every third of their TTL, and
// stops the runner of a job whose lease was lost or whose cancel was asked through another server. When the
// renewal fails twice in a row (the leases are about to lapse, and another server may take the jobs), every
// runner stops.
func (c *Controller) keepLeases() {
	t := time.NewTicker(c.opts.LeaseTTL / 3)
	defer t.Stop()
	renewed := time.Now()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		c.mu.Lock()
		runners := make(map[int64]*runner, len(c.running))
		for id, r := range c.running {
			runners[id] = r
		}
		c.mu.Unlock()
		held, cancels, err := c.renew(runners)
		if err != nil {
			if time.Since(renewed) > c.opts.LeaseTTL*5/6 {
				c.opts.Log.Warn("managed jobs: leases not renewed in time; stopping every job's runner", "err", err)
				for _, r := range runners {
					r.stop(errLeaseLost)
				}
			}
			continue
		}
		renewed = time.Now()
		for id, r := range runners {
			if !held[leaseName(id)] {
				r.stop(errLeaseLost)
			} else if cancels[id] {
				r.stop(errCancelled)
			}
		}
	}
}

// renewChunk bounds the names of one renewal statement.
const renewChunk = 500

// renew renews the runners' leases and reads which of their jobs were asked to cancel.
func (c *Controller) renew(runners map[int64]*runner) (held map[string]bool, cancels map[int64]bool, err error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.LeaseTTL/3)
	defer cancel()
	ids := make([]int64, 0, len(runners))
	for id := range runners {
		ids = append(ids, id)
	}
	held, cancels = map[string]bool{}, map[int64]bool{}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), renewChunk)]
		ids = ids[len(chunk):]
		names := make([]string, len(chunk))
		for i, id := range chunk {
			names[i] = leaseName(id)
		}
		got, err := store.RenewLeases(ctx, c.opts.State, c.holder, names, c.opts.LeaseTTL)
		if err != nil {
			return nil, nil, err
		}
		for _, n := range got {
			held[n] = true
		}
		asked, err := c.st.CancelsAmong(ctx, chunk)
		if err != nil {
			return nil, nil, err
		}
		for _, id := range asked {
			cancels[id] = true
		}
	}
	return held, cancels, nil
}

// Close stops every runner and waits for them. Jobs stay as they are in the store, their clusters up: the next
// controller (this server restarted, or another over the same database) resumes them.
func (c *Controller) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	return nil
}

// startRunner runs job id in this process if it is not already and its lease is free.
func (c *Controller) startRunner(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.running[id] != nil {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.CallTimeout)
	_, err := c.opts.State.AcquireLease(ctx, leaseName(id), c.holder, c.opts.LeaseTTL)
	if errors.Is(err, store.ErrLeaseHeld) && c.predecessorHolds(ctx, id) {
		_, err = c.opts.State.AcquireLease(ctx, leaseName(id), c.holder, c.opts.LeaseTTL)
	}
	cancel()
	if err != nil {
		if !errors.Is(err, store.ErrLeaseHeld) && c.ctx.Err() == nil {
			c.opts.Log.Warn("managed jobs: take lease", "job", id, "err", err)
		}
		return
	}
	r := newRunner(c, id)
	c.running[id] = r
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		r.run()
		c.mu.Lock()
		delete(c.running, id)
		c.mu.Unlock()
		// Released only once the job is final or this controller stops: another server may then take it.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 10*time.Second)
		defer cancel()
		if err := c.opts.State.ReleaseLease(rctx, leaseName(id), c.holder); err != nil {
			c.opts.Log.Warn("managed jobs: release lease", "job", id, "err", err)
		}
	}()
}

// cancelLocal tells this process's runner of job id, if any, that the job was cancelled.
func (c *Controller) cancelLocal(id int64) {
	c.mu.Lock()
	r := c.running[id]
	c.mu.Unlock()
	if r != nil {
		r.stop(errCancelled)
	}
}

// Running is the number of jobs this controller runs now.
func (c *Controller) Running() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.running)
}

// predecessorHolds reports whether job id's lease is held by a dead process of this host and server directory,
// and if so frees it: a server restarted after kill -9 resumes its jobs at once, not after the lease lapses.
func (c *Controller) predecessorHolds(ctx context.Context, id int64) bool {
	return leaseholder.ReleaseIfDead(ctx, c.opts.State, leaseName(id), c.holderPrefix, c.holder)
}

// leasePrefix starts the name of every managed job's lease.
const leasePrefix = "managed-job/"

func leaseName(id int64) string { return leasePrefix + strconv.FormatInt(id, 10) }

// jobDir is where job id's output and controller log are kept.
func (c *Controller) jobDir(id int64) string {
	return filepath.Join(c.opts.Dir, "jobs", fmt.Sprint(id))
}
