// Package catalogtest locates the shared catalog snapshot for tests of the catalog and the optimizer.
package catalogtest

import (
	"context"
	"github.com/stix-run/stix/internal/testutil"
	"sync"
	"testing"

	"github.com/stix-run/stix/internal/catalog"
)

// SnapshotDir returns ../shared/catalogs/v7 beside the module root (found by walking up to go.mod), failing the
// test with a clear message when it is absent. The snapshot is read in place, never copied.
func SnapshotDir(t testing.TB) string {
	t.Helper()
	return testutil.SharedDir(t, "catalogs/"+catalog.SchemaVersion)
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
