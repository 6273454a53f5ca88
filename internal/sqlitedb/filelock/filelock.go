// Package filelock provides exclusive advisory locks on files (flock) that the kernel releases when the holding
// process exits or dies, so a crashed stix never leaves a lock behind.
package filelock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned (wrapped) by TryLock when another holder has the lock.
var ErrLocked = errors.New("locked by another holder")

// The wait between attempts while the lock is held elsewhere starts short (a quick command releases within
// milliseconds) and grows to a ceiling that bounds how late a waiter notices the release.
const (
	firstWait = time.Millisecond
	maxWait   = 50 * time.Millisecond
)

// Lock blocks until it holds an exclusive lock on the file at path, creating the file (0600) and its directory
// (0700) if needed, or until ctx ends. Every call opens its own descriptor, so two goroutines of one process
// exclude each other just as two processes do. The returned unlock is safe to call more than once.
func Lock(ctx context.Context, path string) (unlock func() error, err error) {
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	// flock(LOCK_EX) blocks in the kernel where a context cannot reach it; polling with LOCK_NB keeps the wait
	// cancellable without leaving a goroutine stuck in a syscall.
	wait := firstWait
	for {
		err := try(f)
		if err == nil {
			return releaser(f), nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			f.Close()
			return nil, fmt.Errorf("wait for lock %s: %w", path, context.Cause(ctx))
		case <-timer.C:
		}
		wait = min(2*wait, maxWait)
	}
}

// TryLock takes the exclusive lock on the file at path if it is free and fails at once with ErrLocked if not.
func TryLock(path string) (unlock func() error, err error) {
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	switch err := try(f); {
	case err == nil:
		return releaser(f), nil
	case errors.Is(err, unix.EWOULDBLOCK):
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, ErrLocked)
	default:
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
}

// try takes the lock without blocking; it fails with EWOULDBLOCK while another descriptor holds it.
func try(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

func openLockFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("lock %s: create directory: %w", path, err)
	}
	// The file is never removed: deleting a lock file while another process waits on its old inode would let a
	// third process lock a new inode at the same path, and both would believe they hold the lock.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: open: %w", path, err)
	}
	return f, nil
}

// releaser returns an idempotent unlock; closing the descriptor drops the flock.
func releaser(f *os.File) func() error {
	var once sync.Once
	var err error
	return func() error {
		once.Do(func() { err = f.Close() })
		return err
	}
}
