package filelock

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
)

func TestTryLockWhileHeld(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "locks", "x.lock")
	unlock, err := Lock(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TryLock(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("TryLock while held: %v, want ErrLocked", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatalf("second unlock: %v", err)
	}
	unlock2, err := TryLock(path)
	if err != nil {
		t.Fatalf("TryLock after unlock: %v", err)
	}
	unlock2()
}

func TestLockWaitsForRelease(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := Lock(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	var released atomic.Bool // set by the holder just before it unlocks
	tried := make(chan error, 1)
	sawReleased := make(chan bool, 1)
	go func() {
		_, err := TryLock(path)
		tried <- err
		u, err := Lock(context.Background(), path)
		if err != nil {
			sawReleased <- false
			return
		}
		sawReleased <- released.Load()
		u()
	}()
	if err := <-tried; !errors.Is(err, ErrLocked) {
		t.Fatalf("TryLock from another goroutine while held: %v, want ErrLocked", err)
	}
	released.Store(true)
	unlock()
	if !<-sawReleased {
		t.Fatal("the waiter acquired the lock before the holder released it (or failed)")
	}
}

func TestLockHonoursContext(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := Lock(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Lock(ctx, path); !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock with cancelled context: %v, want context.Canceled", err)
	}
}
