// Package store keeps the state of stix: clusters, their cost history, cluster-name locks, leases and a small
// key/value table. Store is the interface. The default implementation is SQLite at $STIX_HOME/state.db with
// lock files under $STIX_HOME/locks; a PostgreSQL database (db: in the config, or STIX_DB_CONNECTION_URI) holds
// the same tables, with advisory locks. Both run the same SQL (sqlstore.go, clusters.go, lease.go) and the
// same migrations (migrations.go).
package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Store is the stix state. All methods are safe for concurrent use by goroutines and processes.
type Store interface {
	// GetCluster returns the named cluster, or an error satisfying IsNotFound.
	GetCluster(ctx context.Context, name string) (*Cluster, error)
	// ListClusters returns every live cluster, sorted by name.
	ListClusters(ctx context.Context) ([]*Cluster, error)
	// PutCluster inserts or replaces c (a new name starts a new history entry) and sets c.ID; its status change,
	// dated c.StatusUpdatedAt (now if zero), opens or closes a usage interval as SetClusterStatus does.
	PutCluster(ctx context.Context, c *Cluster) error
	// SetClusterStatus records a status change at time at: becoming UP opens a usage interval, STOPPED closes it.
	SetClusterStatus(ctx context.Context, name string, status ClusterStatus, at time.Time) error
	// DeleteCluster removes a live cluster at time at, closing its usage interval; its history entry is kept.
	DeleteCluster(ctx context.Context, name string, at time.Time) error
	// ClusterHistory returns every incarnation of every cluster, live or deleted, oldest launch first.
	ClusterHistory(ctx context.Context) ([]*HistoryEntry, error)
	// LockCluster waits (bounded by ctx) until it holds the named cluster's lock; the lock dies with the process.
	LockCluster(ctx context.Context, name string) (unlock func() error, err error)
	// TryLockCluster takes the named cluster's lock if free and fails at once with ErrLocked if not.
	TryLockCluster(ctx context.Context, name string) (unlock func() error, err error)
	// GetValue returns the value stored under key and whether there is one.
	GetValue(ctx context.Context, key string) (string, bool, error)
	// SetValue stores value under key, replacing any previous value.
	SetValue(ctx context.Context, key, value string) error
	// AcquireLease takes the named lease for holder for ttl if it is free, expired or holder's own (renewing
	// it), and fails at once with ErrLeaseHeld while another holder's is live.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (*Lease, error)
	// RenewLease extends holder's live lease to ttl from now, or fails with ErrLeaseLost.
	RenewLease(ctx context.Context, name, holder string, ttl time.Duration) (*Lease, error)
	// ReleaseLease frees holder's lease at once; releasing a lease one does not hold does nothing.
	ReleaseLease(ctx context.Context, name, holder string) error
	// Close releases the store's resources; locks taken through it stay held until unlocked.
	Close() error
}

// ErrNotFound is matched (errors.Is) by the error for a cluster that does not exist.
var ErrNotFound = errors.New("not found")

// ErrLocked is matched (errors.Is) by TryLockCluster's error when another holder has the lock.
var ErrLocked = errors.New("locked")

// IsNotFound reports whether err says that a cluster does not exist.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsLocked reports whether err says that a cluster's lock is held by someone else.
func IsLocked(err error) bool { return errors.Is(err, ErrLocked) }

// notFound is the error for a missing cluster; it matches ErrNotFound.
type notFound struct{ name string }

func (e *notFound) Error() string        { return fmt.Sprintf("cluster %q does not exist", e.name) }
func (e *notFound) Is(target error) bool { return target == ErrNotFound }

// StateFile is the name of the SQLite database under the stix home directory.
const StateFile = "state.db"

// DefaultHome returns $STIX_HOME, or ~/.stix when it is unset.
func DefaultHome() (string, error) {
	if h := os.Getenv("STIX_HOME"); h != "" {
		return h, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the stix home directory: %w; set STIX_HOME", err)
	}
	return filepath.Join(home, ".stix"), nil
}

// Open opens (creating it if needed) the default store: SQLite at home/state.db, with locks under home/locks.
func Open(ctx context.Context, home string) (Store, error) {
	return openSQLite(ctx, home)
}

// Location says where the state lives.
type Location struct {
	// Home is STIX_HOME, where the SQLite database and its lock files live when DB is empty.
	Home string
	// DB is a PostgreSQL URI (postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE); empty for SQLite.
	DB string
	// DBOrigin says where DB was set (an environment variable, or db: at file:line:col), for messages.
	DBOrigin string
}

// OpenAt opens the store at loc: PostgreSQL when loc.DB is set, else SQLite under loc.Home. A database that
// cannot be reached, or a malformed DB, is an error naming loc.DBOrigin; nothing is created then.
func OpenAt(ctx context.Context, loc Location) (Store, error) {
	if loc.DB == "" {
		return openSQLite(ctx, loc.Home)
	}
	s, err := openPostgres(ctx, loc.DB)
	if err != nil {
		return nil, fmt.Errorf("open stix state (database set by %s): %w", loc.DBOrigin, err)
	}
	return s, nil
}

// The environment variables that name the state database, in order of precedence.
const (
	EnvDB          = "STIX_DB_CONNECTION_URI"
	EnvDBSkyPilot  = "SKYPILOT_DB_CONNECTION_URI"
	dbConfigOrigin = "db: at "
)

// ChooseDB picks the state database as SkyPilot does: db: in the config (configDB, set at configPos) wins over
// the environment (STIX_DB_CONNECTION_URI, then SkyPilot's SKYPILOT_DB_CONNECTION_URI); none of them means
// SQLite (""). origin says where the choice was made, for messages.
func ChooseDB(configDB, configPos string, getenv func(string) string) (uri, origin string) {
	if configDB != "" {
		return configDB, dbConfigOrigin + configPos
	}
	for _, name := range []string{EnvDB, EnvDBSkyPilot} {
		if v := getenv(name); v != "" {
			return v, name
		}
	}
	return "", ""
}
