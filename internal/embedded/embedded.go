// Package embedded is the in-process implementation of api.Client, stix's default: it does the work in this
// process against $STIX_HOME. It is the adapter between the wire types and the core: it reads a task from its
// YAML text (package spec) and the config layers (package config), turns the core's progress hook into an
// Operation's events, and answers check, show-gpus and ssh up/down from the credentials, the catalog and the
// SSH pool provider. The lifecycle itself stays in package cluster, which knows nothing of the wire.
package embedded

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cloud/aws"
	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/cluster"
)

// Options configure a Client.
type Options struct {
	// Core configures the cluster manager, made on first use; Core.Home (STIX_HOME) is required.
	Core cluster.Options
	// Getenv reads the caller's environment (STIX_CONFIG, credentials for check); os.Getenv by default.
	Getenv func(string) string
	// UserHome is the user's home directory (credentials files, ~/.sky/config.yaml); $HOME by default.
	UserHome string
	// ResolveUpload gives the path of a tree uploaded to the API server (TaskSpec.Uploads); nil refuses tasks
	// that name uploads. A non-empty name is the base name a directory must keep (upload.ResolveAs).
	ResolveUpload func(treeID, name string) (string, error)
	// Remote says the core serves the clients of an API server: their config layers may not set the keys only
	// the server's own config sets (config.ServerOnly).
	Remote bool
	// SystemRoot prefixes the system-wide paths that check reads (/var/run/docker.sock); "/" by default.
	// Tests point it at a fake machine.
	SystemRoot string
}

// Client is the embedded api.Client. It is safe for concurrent use.
type Client struct {
	opts Options

	once sync.Once
	m    *cluster.Manager
	err  error
}

var _ api.Client = (*Client)(nil)

// New returns a Client over opts.Core.Home. Nothing is opened until a call needs it.
func New(opts Options) *Client {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.UserHome == "" {
		opts.UserHome = opts.Getenv("HOME")
	}
	return &Client{opts: opts}
}

// manager returns the core, made on first use (so that show-gpus with a named cloud never opens the store).
func (c *Client) manager() (*cluster.Manager, error) {
	c.once.Do(func() {
		core := c.opts.Core
		if core.DB == "" {
			if core.DB, core.DBOrigin, c.err = c.stateDB(); c.err != nil {
				return
			}
		}
		if core.Buckets == nil {
			// S3 credentials beyond access keys (SSO, roles, credential_process) through the AWS SDK's chain,
			// loaded only when a store needs them.
			core.Buckets = cluster.EnvBuckets(credcheck.Env{Home: c.opts.UserHome, Getenv: c.opts.Getenv}, aws.StorageCredentials)
		}
		c.m, c.err = cluster.New(core)
	})
	return c.m, c.err
}

// catalogSource opens the catalog of priced clouds.
func (c *Client) catalogSource() (catalog.Source, error) {
	if c.opts.Core.CatalogSource == nil {
		return nil, errNoCatalog
	}
	return c.opts.Core.CatalogSource()
}

// Close releases the state store, if it was opened; a call after Close that needs the core fails.
func (c *Client) Close() error {
	c.once.Do(func() { c.err = errClosed }) // a core made later would never be closed
	if c.m != nil {
		return c.m.Close()
	}
	return nil
}

var errClosed = errors.New("the stix client is closed")

// progress turns the core's progress hook into events.
func progress(emit func(api.Event)) api.ProgressFunc {
	return func(s api.Step) {
		if s.Err == nil {
			emit(api.Event{Type: api.EventStep, Msg: s.Msg})
			return
		}
		emit(api.Event{Type: api.EventStepFailed, Msg: s.Msg, Error: s.Err.Error()})
	}
}

// Status lists clusters, reconciled with their providers when refresh is set.
func (c *Client) Status(ctx context.Context, names []string, refresh bool) ([]api.Cluster, error) {
	m, err := c.manager()
	if err != nil {
		return nil, err
	}
	return m.Status(ctx, names, refresh)
}

// Match expands cluster names and globs.
func (c *Client) Match(ctx context.Context, patterns []string, all bool) ([]string, error) {
	m, err := c.manager()
	if err != nil {
		return nil, err
	}
	return m.Match(ctx, patterns, all)
}

// Queue lists a cluster's jobs.
func (c *Client) Queue(ctx context.Context, name string, skipFinished bool) ([]api.Job, error) {
	m, err := c.manager()
	if err != nil {
		return nil, err
	}
	return m.Queue(ctx, name, skipFinished)
}

// Job returns one job.
func (c *Client) Job(ctx context.Context, name string, id int) (api.Job, error) {
	m, err := c.manager()
	if err != nil {
		return api.Job{}, err
	}
	return m.Job(ctx, name, id)
}

// Logs writes a job's output to w.
func (c *Client) Logs(ctx context.Context, name string, id int, opts api.LogsOptions, w io.Writer) (api.Job, error) {
	m, err := c.manager()
	if err != nil {
		return api.Job{}, err
	}
	return m.Logs(ctx, name, id, opts, w)
}

// WatchCluster follows a cluster's node events from its provider.
func (c *Client) WatchCluster(ctx context.Context, name string) (<-chan api.ClusterEvent, error) {
	m, err := c.manager()
	if err != nil {
		return nil, err
	}
	return m.WatchCluster(ctx, name)
}

// Endpoints returns where a cluster's exposed ports are reached.
func (c *Client) Endpoints(ctx context.Context, name string, port int) (map[int]string, error) {
	m, err := c.manager()
	if err != nil {
		return nil, err
	}
	return m.Endpoints(ctx, name, port)
}

// Nodes lists a cluster's recorded nodes.
func (c *Client) Nodes(ctx context.Context, name string) ([]api.ClusterNode, error) {
	m, err := c.manager()
	if err != nil {
		return nil, err
	}
	return m.Nodes(ctx, name)
}

// Cancel cancels jobs.
func (c *Client) Cancel(ctx context.Context, name string, ids []int, all bool) (*api.Operation[[]api.CancelOutcome], error) {
	return run(ctx, c, func(ctx context.Context, m *cluster.Manager, _ func(api.Event)) ([]api.CancelOutcome, error) {
		return m.Cancel(ctx, name, ids, all)
	})
}

// Stop stops a cluster.
func (c *Client) Stop(ctx context.Context, name string) (*api.Operation[api.Done], error) {
	return done(ctx, c, func(ctx context.Context, m *cluster.Manager, _ func(api.Event)) error { return m.Stop(ctx, name) })
}

// Start restarts a cluster; its steps are the operation's events.
func (c *Client) Start(ctx context.Context, name string) (*api.Operation[api.Done], error) {
	return done(ctx, c, func(ctx context.Context, m *cluster.Manager, emit func(api.Event)) error {
		return m.Start(ctx, name, progress(emit))
	})
}

// Down tears a cluster down.
func (c *Client) Down(ctx context.Context, name string, purge bool) (*api.Operation[api.Done], error) {
	return done(ctx, c, func(ctx context.Context, m *cluster.Manager, _ func(api.Event)) error {
		return m.Down(ctx, name, purge)
	})
}

// Autostop changes a cluster's autostop setting.
func (c *Client) Autostop(ctx context.Context, name string, opts api.AutostopOptions) (*api.Operation[api.Done], error) {
	return done(ctx, c, func(ctx context.Context, m *cluster.Manager, _ func(api.Event)) error {
		return m.Autostop(ctx, name, opts)
	})
}

// run starts f on the core as an operation; the core is made first, so that a core that cannot be made fails
// the call itself.
func run[T any](ctx context.Context, c *Client, f func(context.Context, *cluster.Manager, func(api.Event)) (T, error)) (*api.Operation[T], error) {
	m, err := c.manager()
	if err != nil {
		return nil, err
	}
	return api.Go(ctx, "", func(ctx context.Context, emit func(api.Event)) (T, error) { return f(ctx, m, emit) }), nil
}

// done is run for an operation that returns only its outcome.
func done(ctx context.Context, c *Client, f func(context.Context, *cluster.Manager, func(api.Event)) error) (*api.Operation[api.Done], error) {
	return run(ctx, c, func(ctx context.Context, m *cluster.Manager, emit func(api.Event)) (api.Done, error) {
		return api.Done{}, f(ctx, m, emit)
	})
}

// StorageList lists the buckets recorded.
func (c *Client) StorageList(ctx context.Context) ([]api.Storage, error) {
	m, err := c.manager()
	if err != nil {
		return nil, err
	}
	return m.StorageList(ctx)
}

// StorageDelete deletes buckets (those stix created) and their records; each bucket's outcome is in the result.
func (c *Client) StorageDelete(ctx context.Context, req api.StorageDeleteRequest) (*api.Operation[[]api.StorageDeleteOutcome], error) {
	return run(ctx, c, func(ctx context.Context, m *cluster.Manager, emit func(api.Event)) ([]api.StorageDeleteOutcome, error) {
		return m.StorageDelete(ctx, req, progress(emit))
	})
}

// CostReport lists every cluster launched, with its cost.
func (c *Client) CostReport(ctx context.Context) ([]api.CostReportEntry, error) {
	m, err := c.manager()
	if err != nil {
		return nil, err
	}
	return m.CostReport(ctx)
}
