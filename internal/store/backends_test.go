package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stix-run/stix/internal/sqlitedb"
	"github.com/stix-run/stix/internal/testutil/pgtest"
)

// The store's tests run against every backend: SQLite under a temporary home, and a fresh database on a real
// PostgreSQL server that the tests start (package pgtest; skipped where PostgreSQL is not installed, except in
// CI where STIX_REQUIRE_POSTGRES=1 makes that a failure).
var backendNames = []string{"sqlite", "postgres"}

// freshLocation returns an empty state location of the named backend.
func freshLocation(t testing.TB, backend string) Location {
	t.Helper()
	loc := Location{Home: t.TempDir()}
	if backend == "postgres" {
		loc.DB, loc.DBOrigin = pgtest.Shared(t).NewDatabase(t), "the test"
	}
	return loc
}

// forEachBackend runs fn as a parallel subtest per backend, each with a fresh location.
func forEachBackend(t *testing.T, fn func(t *testing.T, loc Location)) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			fn(t, freshLocation(t, b))
		})
	}
}

func openTest(t testing.TB, loc Location) Store {
	t.Helper()
	s, err := OpenAt(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openAtVersion creates the state at loc with only the first n migrations applied (the schema an older
// binary wrote, or with more than this binary knows a newer one) and returns the raw database.
func openAtVersion(t *testing.T, loc Location, migs []string) *sql.DB {
	t.Helper()
	if loc.DB == "" {
		db, err := sqlitedb.Open(filepath.Join(loc.Home, StateFile), migs)
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	cfg, err := parsePostgresURI(loc.DB)
	if err != nil {
		t.Fatal(err)
	}
	db := openPostgresDB(cfg)
	if err := migratePostgres(context.Background(), db, migs); err != nil {
		db.Close()
		t.Fatal(err)
	}
	return db
}
