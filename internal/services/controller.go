// Package services is the serve controller (`stix serve`): it runs inside the API server process, like the
// managed-jobs controller, reaches the core only through api.Client, and keeps its state in the server's store.
// Each service is run by one goroutine (a runner) holding the store lease "service/NAME": it launches the
// replicas as clusters through the core, probes them, puts a load balancer (internal/serve) in front and applies
// the autoscaler's plans. A server restarted after kill -9 resumes its services.
package services

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/leaseholder"
	"github.com/stix-run/stix/internal/serve"
	"github.com/stix-run/stix/internal/store"
)

// Options configure a Controller. Core, State and Dir are required.
type Options struct {
	// Core is the embedded core: replicas are launched, watched and torn down only through it.
	Core api.Client
	// State is the server's state store, where the service tables are.
	State store.Store
	// Dir is the server's directory: each service's controller log is kept under Dir/services/NAME.
	Dir string
	// Host is the address the load balancers listen on and their endpoints name; 127.0.0.1 by default.
	Host string
	// Log receives the controller's own messages; discarded when nil.
	Log *slog.Logger
	// LeaseTTL is how long a service's lease lasts unless renewed (renewed every third of it); 30 s by default.
	LeaseTTL time.Duration
	// Scan is how often the controller looks for services no controller runs; 10 s by default.
	Scan time.Duration
	// ProbeInterval is how often each replica is probed; serve.ProbeInterval (SkyServe's 10 s) by default.
	ProbeInterval time.Duration
	// MaxLaunches bounds the replicas being launched at once per service; 4 by default.
	MaxLaunches int
	// LaunchTimeout bounds one replica's launch (30 min), CallTimeout every other call to the core (2 min).
	LaunchTimeout, CallTimeout time.Duration
	// Now is the clock; time.Now by default.
	Now func() time.Time
}

// Controller runs services inside the API server process.
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
	running map[string]*runner
	// listeners are the load balancers' listeners ServeUp opened, until their runners take them.
	listeners map[string]net.Listener
	closed    bool
}

// New returns a Controller; Start starts it.
func New(opts Options) (*Controller, error) {
	if opts.Core == nil || opts.State == nil || opts.Dir == "" {
		return nil, errors.New("serve controller: Core, State and Dir are required")
	}
	st, err := OpenStore(opts.State)
	if err != nil {
		return nil, err
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 30 * time.Second
	}
	if opts.Scan <= 0 {
		opts.Scan = 10 * time.Second
	}
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = serve.ProbeInterval
	}
	if opts.MaxLaunches <= 0 {
		opts.MaxLaunches = 4
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
	if err := os.MkdirAll(filepath.Join(opts.Dir, "services"), 0o700); err != nil {
		return nil, fmt.Errorf("serve controller: %w", err)
	}
	prefix := leaseholder.Prefix("services", opts.Dir)
	c := &Controller{opts: opts, st: st, running: map[string]*runner{}, holderPrefix: prefix,
		holder: leaseholder.New(prefix)}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Start resumes every service that no live controller runs, then keeps looking for such services every Scan
// (a service whose server died is taken over once its lease lapses) and renews the leases of its own.
func (c *Controller) Start() {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(min(c.opts.Scan, c.opts.LeaseTTL/3))
		defer t.Stop()
		lastScan := time.Time{}
		for {
			if time.Since(lastScan) >= c.opts.Scan {
				c.resume()
				lastScan = time.Now()
			}
			select {
			case <-c.ctx.Done():
				return
			case <-t.C:
			}
			c.renew()
		}
	}()
}

// resume starts a runner for every service this controller does not run and whose lease it can take.
func (c *Controller) resume() {
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.CallTimeout)
	defer cancel()
	rows, err := c.st.List(ctx)
	if err != nil {
		if c.ctx.Err() == nil {
			c.opts.Log.Warn("services: list", "err", err)
		}
		return
	}
	live, err := store.LiveLeases(ctx, c.opts.State, leasePrefix)
	if err != nil {
		live = nil
	}
	for _, r := range rows {
		if h, ok := live[leaseName(r.Name)]; ok && h != c.holder && !strings.HasPrefix(h, c.holderPrefix) {
			continue
		}
		c.startRunner(r.Name)
	}
}

// renew renews the leases of the services this controller runs; a runner whose lease was lost stops (its
// service stays as it is, for whoever holds the lease now), and one whose service was asked down through
// another server is told.
func (c *Controller) renew() {
	c.mu.Lock()
	names := make([]string, 0, len(c.running))
	runners := map[string]*runner{}
	for n, r := range c.running {
		names = append(names, leaseName(n))
		runners[n] = r
	}
	c.mu.Unlock()
	if len(names) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.LeaseTTL/3)
	defer cancel()
	got, err := store.RenewLeases(ctx, c.opts.State, c.holder, names, c.opts.LeaseTTL)
	if err != nil {
		c.opts.Log.Warn("services: renew leases", "err", err)
		return
	}
	held := map[string]bool{}
	for _, n := range got {
		held[n] = true
	}
	for n, r := range runners {
		if !held[leaseName(n)] {
			r.stop()
			continue
		}
		if row, err := c.st.Get(ctx, n); err == nil && row.Down {
			r.down()
		} else if err == nil {
			r.updated() // a version recorded through another server; the runner ignores one it has
		}
	}
}

// Close stops every runner and waits for them. Services stay as they are, their replicas up: the next controller
// resumes them.
func (c *Controller) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	return nil
}

// startRunner runs service name in this process if it is not already and its lease is free.
func (c *Controller) startRunner(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.running[name] != nil {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.CallTimeout)
	_, err := c.opts.State.AcquireLease(ctx, leaseName(name), c.holder, c.opts.LeaseTTL)
	if errors.Is(err, store.ErrLeaseHeld) && c.predecessorHolds(ctx, name) {
		_, err = c.opts.State.AcquireLease(ctx, leaseName(name), c.holder, c.opts.LeaseTTL)
	}
	cancel()
	if err != nil {
		if !errors.Is(err, store.ErrLeaseHeld) && c.ctx.Err() == nil {
			c.opts.Log.Warn("services: take lease", "service", name, "err", err)
		}
		return
	}
	r := newRunner(c, name)
	c.running[name] = r
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		r.run()
		c.mu.Lock()
		delete(c.running, name)
		c.mu.Unlock()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 10*time.Second)
		defer cancel()
		if err := c.opts.State.ReleaseLease(rctx, leaseName(name), c.holder); err != nil {
			c.opts.Log.Warn("services: release lease", "service", name, "err", err)
		}
	}()
}

// runnerOf returns this process's runner of a service, or nil.
func (c *Controller) runnerOf(name string) *runner {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.running[name]
}

// predecessorHolds reports whether a service's lease is held by a dead process of this host and server
// directory, and if so frees it: a server restarted after kill -9 resumes its services at once.
func (c *Controller) predecessorHolds(ctx context.Context, name string) bool {
	return leaseholder.ReleaseIfDead(ctx, c.opts.State, leaseName(name), c.holderPrefix, c.holder)
}

// leasePrefix starts the name of every service's lease.
const leasePrefix = "service/"

func leaseName(name string) string { return leasePrefix + name }

// logPath is where a service's controller log is kept.
func (c *Controller) logPath(name string) string {
	return filepath.Join(c.opts.Dir, "services", name, "controller.log")
}
