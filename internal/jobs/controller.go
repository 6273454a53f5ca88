package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/leased"
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
	// LaunchTimeout bounds one launch of a job cluster (30 min), DownTimeout one teardown of it (15 min: cloud
	// instances take minutes to terminate), CallTimeout every other call to the core (2 min): no wait is
	// unbounded.
	LaunchTimeout, DownTimeout, CallTimeout time.Duration
	// Now is the clock; time.Now by default.
	Now func() time.Time
	// DropUploads deletes what the client put in the intermediate bucket for a job (config `jobs.bucket`:
	// TaskSpec.Uploads values that are bucket URIs), once the job has ended; nil leaves them.
	DropUploads func(ctx context.Context, uris []string) error
}

// Controller runs managed jobs inside the API server process: one runner per running job, which holds the
// job's lease, launches each task on its job cluster, follows its output and recovers it.
type Controller struct {
	opts    Options
	st      *Store
	runners *leased.Runners[int64, *runner]
	// pools runs one runner per pool (pool.go); poolSig wakes pool runners and jobs waiting for a worker.
	pools   *leased.Runners[string, *poolRunner]
	poolSig signal
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
	if opts.DownTimeout <= 0 {
		opts.DownTimeout = 15 * time.Minute
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
	c := &Controller{opts: opts, st: st}
	c.runners = leased.New(leased.Options[int64, *runner]{
		State: opts.State, Kind: "jobs", Dir: opts.Dir, LeasePrefix: "managed-job/",
		Key: func(id int64) string { return strconv.FormatInt(id, 10) },
		TTL: opts.LeaseTTL, Scan: opts.Scan, CallTimeout: opts.CallTimeout, Log: opts.Log, Lost: errLeaseLost,
		Pending: c.st.Unfinished,
		New:     func(ctx context.Context, id int64) *runner { return newRunner(ctx, c, id) },
		Renewed: c.cancelsAmong,
	})
	c.pools = leased.New(leased.Options[string, *poolRunner]{
		State: opts.State, Kind: "pools", Dir: opts.Dir, LeasePrefix: "pool/",
		Key: func(name string) string { return name },
		TTL: opts.LeaseTTL, Scan: opts.Scan, CallTimeout: opts.CallTimeout, Log: opts.Log, Lost: errLeaseLost,
		Pending: c.st.PoolNames,
		New:     func(ctx context.Context, name string) *poolRunner { return newPoolRunner(ctx, c, name) },
	})
	return c, nil
}

// Start resumes every unfinished job that no live controller runs (after a restart: each re-attaches to its
// cluster, or recovers), then keeps looking for such jobs every Scan, so that a job whose server died is
// taken over once its lease lapses; the leases of the jobs it runs are renewed every third of their TTL.
func (c *Controller) Start() {
	c.pools.Start()
	c.runners.Start()
}

// cancelsAmong stops the runners of those of the jobs ids whose cancel was asked through another server.
func (c *Controller) cancelsAmong(ctx context.Context, ids []int64) error {
	asked, err := c.st.CancelsAmong(ctx, ids)
	for _, id := range asked {
		c.runners.Stop(id, errCancelled)
	}
	return err
}

// Close stops every runner and waits for them. Jobs stay as they are in the store, their clusters up: the next
// controller (this server restarted, or another over the same database) resumes them.
func (c *Controller) Close() error {
	c.runners.Close()
	c.pools.Close()
	return nil
}

// startRunner runs job id in this process if it is not already and its lease is free.
func (c *Controller) startRunner(id int64) { c.runners.Take(id) }

// cancelLocal tells this process's runner of job id, if any, that the job was cancelled.
func (c *Controller) cancelLocal(id int64) { c.runners.Stop(id, errCancelled) }

// Running is the number of jobs this controller runs now.
func (c *Controller) Running() int { return c.runners.Len() }

// jobDir is where job id's output and controller log are kept.
func (c *Controller) jobDir(id int64) string {
	return filepath.Join(c.opts.Dir, "jobs", fmt.Sprint(id))
}
