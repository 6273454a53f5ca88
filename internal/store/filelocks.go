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

// LocksDir is the directory under the stix home that holds the cluster lock files.
const LocksDir = "locks"

// LockCluster waits (bounded by ctx) until it holds the named cluster's lock file; the kernel drops the lock if
// the process dies.
func (s *sqliteStore) LockCluster(ctx context.Context, name string) (func() error, error) {
	path, err := s.lockPath(name)
	if err != nil {
		return nil, err
	}
	unlock, err := filelock.Lock(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("lock cluster %q: %w", name, err)
	}
	return unlock, nil
}

// TryLockCluster takes the named cluster's lock if free and fails at once with ErrLocked if not.
func (s *sqliteStore) TryLockCluster(ctx context.Context, name string) (func() error, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lock cluster %q: %w", name, err)
	}
	path, err := s.lockPath(name)
	if err != nil {
		return nil, err
	}
	unlock, err := filelock.TryLock(path)
	if errors.Is(err, filelock.ErrLocked) {
		return nil, fmt.Errorf("cluster %q is in use by another stix command (lock %s); wait for it to finish: %w",
			name, path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("lock cluster %q: %w", name, err)
	}
	return unlock, nil
}

func (s *sqliteStore) lockPath(name string) (string, error) {
	if name == "" {
		return "", errors.New("lock cluster: empty name")
	}
	return filepath.Join(s.home, LocksDir, lockFileName(name)), nil
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
