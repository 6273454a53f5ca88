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
	"sync"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/leased"
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
	// LaunchTimeout bounds one replica's launch (30 min), DownTimeout one replica's teardown (15 min: cloud
	// instances take minutes to terminate), CallTimeout every other call to the core (2 min).
	LaunchTimeout, DownTimeout, CallTimeout time.Duration
	// DropUploads deletes what the client put in the intermediate bucket for a service (config `jobs.bucket`:
	// bucket URIs in its versions' TaskSpec.Uploads) once the service is forgotten; nil keeps them.
	DropUploads func(ctx context.Context, uris []string) error
	// Now is the clock; time.Now by default.
	Now func() time.Time
}

// Controller runs services inside the API server process.
type Controller struct {
	opts    Options
	st      *Store
	runners *leased.Runners[string, *runner]

	mu sync.Mutex
	// listeners are the load balancers' listeners ServeUp opened, until their runners take them.
	listeners map[string]net.Listener
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
	if err := os.MkdirAll(filepath.Join(opts.Dir, "services"), 0o700); err != nil {
		return nil, fmt.Errorf("serve controller: %w", err)
	}
	c := &Controller{opts: opts, st: st}
	c.runners = leased.New(leased.Options[string, *runner]{
		State: opts.State, Kind: "services", Dir: opts.Dir, LeasePrefix: "service/",
		Key: func(name string) string { return name },
		TTL: opts.LeaseTTL, Scan: opts.Scan, CallTimeout: opts.CallTimeout, Log: opts.Log,
		Pending: c.names,
		New:     func(ctx context.Context, name string) *runner { return newRunner(ctx, c, name) },
		Renewed: c.askedElsewhere,
	})
	return c, nil
}

// Start resumes every service that no live controller runs, then keeps looking for such services every Scan
// (a service whose server died is taken over once its lease lapses) and renews the leases of its own.
func (c *Controller) Start() { c.runners.Start() }

// names lists every service: each one is run by some controller.
func (c *Controller) names(ctx context.Context) ([]string, error) {
	rows, err := c.st.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Name
	}
	return out, nil
}

// askedElsewhere tells the runners of held services what was asked through another server: down, a new
// version, or a replica's termination.
func (c *Controller) askedElsewhere(ctx context.Context, held []string) error {
	for _, n := range held {
		r := c.runnerOf(n)
		if r == nil {
			continue
		}
		if row, err := c.st.Get(ctx, n); err == nil && row.Down {
			r.down()
		} else if err == nil {
			r.updated() // a version recorded through another server; the runner ignores one it has
			if err := c.forwardTerminates(ctx, r, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close stops every runner and waits for them. Services stay as they are, their replicas up: the next controller
// resumes them.
func (c *Controller) Close() error {
	c.runners.Close()
	return nil
}

// startRunner runs service name in this process if it is not already and its lease is free.
func (c *Controller) startRunner(name string) { c.runners.Take(name) }

// runnerOf returns this process's runner of a service, or nil.
func (c *Controller) runnerOf(name string) *runner {
	r, _ := c.runners.Get(name)
	return r
}

// logPath is where a service's controller log is kept.
func (c *Controller) logPath(name string) string {
	return filepath.Join(c.opts.Dir, "services", name, "controller.log")
}

// forget deletes a service's row, then what its versions put in the intermediate bucket (Options.DropUploads):
// no replica launches from them again. A failure to drop them is logged; the files stay.
func (c *Controller) forget(ctx context.Context, name string) error {
	row, err := c.st.Get(ctx, name)
	if err != nil {
		return err
	}
	if err := c.st.Delete(ctx, name); err != nil {
		return err
	}
	var versions []api.TaskSpec
	for _, ts := range row.Spec.Versions {
		versions = append(versions, ts)
	}
	if uris := api.BucketUploads(versions...); len(uris) > 0 && c.opts.DropUploads != nil {
		if err := c.opts.DropUploads(ctx, uris); err != nil {
			c.opts.Log.Warn("serve: could not delete the service's files from the intermediate bucket", "service", row.Name, "uris", uris, "err", err)
		} else {
			c.opts.Log.Info("serve: deleted the service's files from the intermediate bucket", "service", row.Name, "uris", uris)
		}
	}
	return nil
}
