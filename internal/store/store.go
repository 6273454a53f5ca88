// Package store keeps the state of the stix CLI: clusters, their cost history, cluster-name locks and a small
// key/value table. Store is the interface; the default implementation is SQLite at $STIX_HOME/state.db (files
// sqlite*.go and filelocks.go); a PostgreSQL one for the API server will satisfy the same interface.
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
