package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/stix-run/stix/internal/sqlitedb/filelock"
)

// clusterLocks takes cluster-name locks that die with the process that holds them: files under the stix home
// (SQLite) or advisory locks (PostgreSQL, pglocks.go). lock waits (bounded by ctx) when wait is set, else it
// fails at once with an error wrapping errLockBusy; where names the lock in messages.
type clusterLocks interface {
	lock(ctx context.Context, name string, wait bool) (unlock func() error, where string, err error)
}

// errLockBusy is what clusterLocks.lock returns, wrapped, when the lock is held and wait is not set.
var errLockBusy = errors.New("lock busy")

// LockCluster waits (bounded by ctx) until it holds the named cluster's lock; the lock dies with the process.
func (s *sqlStore) LockCluster(ctx context.Context, name string) (func() error, error) {
	return s.lockCluster(ctx, name, true)
}

// TryLockCluster takes the named cluster's lock if free and fails at once with ErrLocked if not.
func (s *sqlStore) TryLockCluster(ctx context.Context, name string) (func() error, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lock cluster %q: %w", name, err)
	}
	return s.lockCluster(ctx, name, false)
}

func (s *sqlStore) lockCluster(ctx context.Context, name string, wait bool) (func() error, error) {
	if name == "" {
		return nil, errors.New("lock cluster: empty name")
	}
	unlock, where, err := s.locks.lock(ctx, name, wait)
	if errors.Is(err, errLockBusy) {
		return nil, fmt.Errorf("cluster %q is in use by another stix command (lock %s); wait for it to finish: %w",
			name, where, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("lock cluster %q: %w", name, err)
	}
	return unlock, nil
}

// LocksDir is the directory under the stix home that holds the cluster lock files.
const LocksDir = "locks"

// fileLocks are cluster locks as files under home/locks; the kernel drops a lock when its process dies.
type fileLocks struct{ home string }

func (l fileLocks) lock(ctx context.Context, name string, wait bool) (func() error, string, error) {
	path := filepath.Join(l.home, LocksDir, lockFileName(name))
	var (
		unlock func() error
		err    error
	)
	if wait {
		unlock, err = filelock.Lock(ctx, path)
	} else {
		unlock, err = filelock.TryLock(path)
	}
	if errors.Is(err, filelock.ErrLocked) {
		return nil, path, fmt.Errorf("%w: %w", errLockBusy, err)
	}
	return unlock, path, err
}

// maxLockNameLen keeps lock file names well under the 255-byte limit of common filesystems.
const maxLockNameLen = 100

// lockFileName maps a cluster name to a safe file name. A name made only of [A-Za-z0-9._-] that does not start
// with '.' is used as it is; any other name has its other bytes replaced and a hash of the original appended,
// so that two different names never share a lock file.
func lockFileName(name string) string {
	clean := true
	safe := []byte(name)
	for i, b := range safe {
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.') {
			safe[i] = '_'
			clean = false
		}
	}
	if clean && !strings.HasPrefix(name, ".") && len(name) <= maxLockNameLen {
		return name + ".lock"
	}
	sum := sha256.Sum256([]byte(name))
	short := strings.TrimLeft(string(safe[:min(len(safe), maxLockNameLen-17)]), ".")
	return short + "-" + hex.EncodeToString(sum[:8]) + ".lock"
}
