package upload

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCollect: trees not kept and older than the cutoff go, with their roots (whatever the modes of their
// directories) and the blobs no remaining tree names; kept trees and their blobs stay whatever their age;
// nothing younger than the cutoff goes; abandoned partial uploads go.
func TestCollect(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Limits{})
	src := t.TempDir()
	writeFiles(t, filepath.Join(src, "a"), map[string]string{"only-a.txt": "a", "shared.txt": "both", "ro/x.txt": "x"})
	writeFiles(t, filepath.Join(src, "b"), map[string]string{"only-b.txt": "b", "shared.txt": "both"})
	if err := os.Chmod(filepath.Join(src, "a", "ro"), 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(src, "a", "ro"), 0o755) })
	a := push(t, ts, filepath.Join(src, "a"), PushOptions{})
	b := push(t, ts, filepath.Join(src, "b"), PushOptions{})
	rootA, err := Resolve(ts.dir, a)
	if err != nil {
		t.Fatal(err)
	}
	abandoned := strings.Repeat("ab", 32)
	if err := os.WriteFile(filepath.Join(ts.dir, "partial", abandoned), []byte("half a blob"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Everything is younger than the cutoff: nothing goes.
	got, err := Collect(ctx, ts.dir, nil, time.Now().Add(-time.Hour))
	if err != nil || got != (Collected{}) {
		t.Fatalf("Collect of young uploads = %+v, %v; want nothing removed", got, err)
	}

	// b is in use; a is old and unused.
	got, err = Collect(ctx, ts.dir, map[string]bool{b: true}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// a's blobs only-a.txt and ro/x.txt go; shared.txt stays with b.
	if want := (Collected{Trees: 1, Blobs: 2, Partials: 1, Bytes: int64(len("a") + len("x") + len("half a blob"))}); got != want {
		t.Errorf("Collect = %+v, want %+v", got, want)
	}
	if _, err := os.Stat(rootA); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a's root: %v, want it removed", err)
	}
	if _, err := Resolve(ts.dir, a); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve of a collected tree: %v, want ErrNotFound", err)
	}
	rootB, err := Resolve(ts.dir, b)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"only-b.txt": "b", "shared.txt": "both"} {
		if data, err := os.ReadFile(filepath.Join(rootB, name)); err != nil || string(data) != want {
			t.Errorf("b/%s after collect: %q, %v", name, data, err)
		}
	}
	if left, _ := os.ReadDir(filepath.Join(ts.dir, "tmp")); len(left) != 0 {
		t.Errorf("tmp/ holds %d entries after collect", len(left))
	}

	// a pushed again is whole again (its blobs are sent again).
	if again := push(t, ts, filepath.Join(src, "a"), PushOptions{}); again != a {
		t.Fatalf("a pushed again is %s, was %s", again, a)
	}
	if _, err := Resolve(ts.dir, a); err != nil {
		t.Errorf("a pushed again: %v", err)
	}
}

// TestCommitAgainRenewsATree: a tree committed long ago and committed again (an unchanged workdir pushed for a
// new request) counts as young, so it survives a collection between the push and the request.
func TestCommitAgainRenewsATree(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Limits{})
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"train.py": "print(1)"})
	id := push(t, ts, src, PushOptions{})
	old := time.Now().Add(-48 * time.Hour)
	for _, p := range []string{filepath.Join(ts.dir, "trees", id+".json"), filepath.Join(ts.dir, "blobs")} {
		if err := filepath.Walk(p, func(p string, _ os.FileInfo, err error) error {
			if err == nil {
				err = os.Chtimes(p, old, old)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	push(t, ts, src, PushOptions{})
	got, err := Collect(context.Background(), ts.dir, nil, time.Now().Add(-time.Hour))
	if err != nil || got != (Collected{}) {
		t.Fatalf("Collect after a second commit = %+v, %v; want nothing removed", got, err)
	}
	if _, err := Resolve(ts.dir, id); err != nil {
		t.Error(err)
	}
}
