// Package catalogtest locates the shared catalog snapshot for tests of the catalog and the optimizer.
package catalogtest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stix-run/stix/internal/catalog"
)

// SnapshotDir returns ../shared/catalogs/v7 beside the module root (found by walking up to go.mod), failing the
// test with a clear message when it is absent. The snapshot is read in place, never copied.
func SnapshotDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory; cannot locate the catalog snapshot")
		}
		dir = parent
	}
	snap := filepath.Join(dir, "..", "shared", "catalogs", catalog.SchemaVersion)
	if st, err := os.Stat(snap); err != nil || !st.IsDir() {
		t.Fatalf("the catalog snapshot is missing: expected SkyPilot's catalog files at %s (shared/catalogs/%s beside the repository)", snap, catalog.SchemaVersion)
	}
	return snap
}

var (
	once   sync.Once
	loaded *catalog.Catalog
	errLd  error
)

// Snapshot loads every cloud of the snapshot once per test binary.
func Snapshot(t testing.TB) *catalog.Catalog {
	t.Helper()
	dir := SnapshotDir(t)
	once.Do(func() { loaded, errLd = catalog.Load(context.Background(), catalog.Dir(dir)) })
	if errLd != nil {
		t.Fatalf("load catalog snapshot: %v", errLd)
	}
	return loaded
}
