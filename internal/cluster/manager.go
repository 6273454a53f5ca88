// Package cluster is the lifecycle of clusters and their jobs: launch, exec, status and refresh,
// stop/start/down, autostop, logs and cancel. It joins the state store, the providers and the node agents; the
// CLI reaches it through the cli.Client interface, in-process or behind the API server.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"sync"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/agent/agenttls"
	"github.com/stix-run/stix/internal/agent/envknob"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/providers"
	"github.com/stix-run/stix/internal/store"
)

// Options configure a Manager. Home is required; the rest have defaults.
type Options struct {
	// Home is STIX_HOME: the state database, the local provider's nodes and the locks live under it.
	Home string
	// Registry lists the providers; providers.New by default.
	Registry *cloud.Registry
	// Now is the clock; time.Now by default.
	Now func() time.Time
	// User is the name recorded on clusters and jobs (SKYPILOT_USER); the OS user by default.
	User string
	// EnabledInfra lists the infra the user enabled; nil means `stix check`'s cache, checked on first use.
	EnabledInfra func(ctx context.Context) ([]string, error)
	// CatalogSource opens the catalog of priced clouds, read when a priced cloud is enabled.
	CatalogSource func() (catalog.Source, error)
	// Buckets returns the object storage client bucket file mounts use, made for the caller's config and
	// credentials (ctx carries the config); nil means a task with buckets is refused.
	Buckets func(ctx context.Context) (Buckets, error)
	// DB is the PostgreSQL URI of the state database and DBOrigin where it was set (see store.ChooseDB);
	// empty DB means SQLite under Home.
	DB, DBOrigin string
}

// Manager runs cluster operations. It is safe for concurrent use; the state store is opened on first use.
type Manager struct {
	home     string
	registry *cloud.Registry
	now      func() time.Time
	user     string

	enabledInfra  func(ctx context.Context) ([]string, error)
	catalogSource func() (catalog.Source, error)
	newBuckets    func(ctx context.Context) (Buckets, error)

	agentTimeout time.Duration // STIX_AGENT_TIMEOUT, read once: the timeout of calls to the head's agent

	dbLoc store.Location

	// stMu guards st, opened on first use; a failed open is not kept (see store).
	stMu     sync.Mutex
	st       store.Store
	stClosed bool
}

// New returns a Manager over opts.Home.
func New(opts Options) (*Manager, error) {
	if opts.Home == "" {
		return nil, errors.New("cluster manager: no STIX_HOME given")
	}
	m := &Manager{home: opts.Home, registry: opts.Registry, now: opts.Now, user: opts.User,
		enabledInfra: opts.EnabledInfra, catalogSource: opts.CatalogSource, newBuckets: opts.Buckets,
		dbLoc: store.Location{Home: opts.Home, DB: opts.DB, DBOrigin: opts.DBOrigin}}
	// A bad value fails the command here, before it changes anything, not each call to an agent part way.
	var err error
	if m.agentTimeout, err = envknob.AgentTimeout.Get(); err != nil {
		return nil, err
	}
	if m.registry == nil {
		reg, err := providers.New(providers.Config{Home: opts.Home})
		if err != nil {
			return nil, err
		}
		m.registry = reg
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.user == "" {
		m.user = currentUser()
	}
	return m, nil
}

// UserOf is the user a call acts as: the caller the API server authenticated, else Options.User. It is the
// user recorded on clusters and jobs, and the one an admin policy is told of.
func (m *Manager) UserOf(ctx context.Context) string {
	if id, ok := auth.From(ctx); ok {
		return id.Name
	}
	return m.user
}

// Close releases the state store; a call after Close that needs it fails.
func (m *Manager) Close() error {
	m.stMu.Lock()
	defer m.stMu.Unlock()
	m.stClosed = true
	if m.st != nil {
		return m.st.Close()
	}
	return nil
}

var errManagerClosed = errors.New("the cluster manager is closed")

// store opens the state store on first use. An open that fails is not kept: it may have failed only because
// its caller's context ended (a launch cancelled by `serve down` or `jobs cancel` while the store was being
// opened), and the next call (that teardown, with a context of its own) opens it again.
func (m *Manager) store(ctx context.Context) (store.Store, error) {
	m.stMu.Lock()
	defer m.stMu.Unlock()
	if m.stClosed {
		return nil, errManagerClosed
	}
	if m.st == nil {
		st, err := store.OpenAt(ctx, m.dbLoc)
		if err != nil {
			return nil, err
		}
		m.st = st
	}
	return m.st, nil
}

// record loads a cluster's record, with a friendly error for an unknown name.
func (m *Manager) record(ctx context.Context, name string) (*store.Cluster, error) {
	st, err := m.store(ctx)
	if err != nil {
		return nil, err
	}
	rec, err := st.GetCluster(ctx, name)
	if store.IsNotFound(err) {
		return nil, &api.ClusterNotFoundError{Name: name}
	}
	return rec, err
}

// NotUpError is the error for an operation that needs an UP cluster.
type NotUpError struct {
	Name   string
	Status store.ClusterStatus
}

func (e *NotUpError) Error() string {
	if e.Status == store.StatusStopped {
		return fmt.Sprintf("cluster %q is STOPPED: start it with `stix start %s`", e.Name, e.Name)
	}
	return fmt.Sprintf("cluster %q is %s, not UP: see `stix status -r %s`", e.Name, e.Status, e.Name)
}

// info decodes the ClusterInfo persisted with a record.
func info(rec *store.Cluster) (*cloud.ClusterInfo, error) {
	if len(rec.Handle) == 0 {
		return nil, fmt.Errorf("cluster %q has no nodes recorded (its launch did not finish): resume it with `stix launch -c %s`, or remove it with `stix down %s`", rec.Name, rec.Name, rec.Name)
	}
	var ci cloud.ClusterInfo
	if err := json.Unmarshal(rec.Handle, &ci); err != nil {
		return nil, fmt.Errorf("cluster %q: read its recorded nodes: %w", rec.Name, err)
	}
	return &ci, nil
}

func (m *Manager) provider(rec *store.Cluster) (cloud.Provider, error) {
	return m.registry.Lookup(rec.Cloud)
}

// head connects to the head node's agent of an UP cluster.
func (m *Manager) head(ctx context.Context, rec *store.Cluster) (*agent.Client, func(), error) {
	if rec.Status != store.StatusUp {
		return nil, nil, &NotUpError{Name: rec.Name, Status: rec.Status}
	}
	ci, err := info(rec)
	if err != nil {
		return nil, nil, err
	}
	return m.headOf(ctx, rec, ci)
}

func (m *Manager) headOf(ctx context.Context, rec *store.Cluster, ci *cloud.ClusterInfo) (*agent.Client, func(), error) {
	p, err := m.provider(rec)
	if err != nil {
		return nil, nil, err
	}
	h, ok := ci.Head()
	if !ok {
		return nil, nil, fmt.Errorf("cluster %q has no head node recorded", rec.Name)
	}
	tlsCfg, err := agenttls.ClientConfig([]byte(ci.CACert))
	if err != nil {
		return nil, nil, fmt.Errorf("cluster %q: %w", rec.Name, err)
	}
	tr, err := p.Transport(ctx, ci, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("reach the head node of %q: %w", rec.Name, err)
	}
	c := agent.NewClient(h.AgentAddr, ci.Secret, tr.Dial, agent.WithTLS(tlsCfg), agent.WithNode(rec.Name, h.Rank),
		agent.WithTimeout(m.agentTimeout))
	return c, func() { c.Close(); tr.Close() }, nil
}

// generateName makes a cluster name as SkyPilot does: sky-<4 hex>-<user>, here stix-....
func (m *Manager) generateName(ctx context.Context) string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	u := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return -1
	}, strings.ToLower(m.UserOf(ctx)))
	if u == "" {
		u = "user"
	}
	return "stix-" + hex.EncodeToString(b[:]) + "-" + u
}

func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "user"
}
