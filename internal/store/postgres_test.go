package store

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stix-run/stix/internal/testutil/pgtest"
)

// TestOpenAtBadDatabaseURI: a bad db: URI, or one no server answers, fails with an error that says where it
// was set and what is wrong, never repeats the password, and creates nothing.
func TestOpenAtBadDatabaseURI(t *testing.T) {
	t.Parallel()
	const origin = "db: at /etc/stix/config.yaml:3:5"
	tests := []struct{ uri, want string }{
		{"mysql://u:s3cret@db.example/stix", `unsupported database URI scheme "mysql"`},
		{"sqlite:///var/stix/state.db", `unsupported database URI scheme "sqlite"`},
		{"stix-db", `unsupported database URI scheme "none"`},
		{"postgresql://u:s3cret@127.0.0.1:5432", "names no host or no database"},
		{"postgresql://u:s3cret@db.example:notaport/stix", "malformed database URI"},
		{"postgresql://u:s3cret@127.0.0.1:1/stix?connect_timeout=5", "connect"},
		{"postgresql://u:s3cret@127.0.0.1/stix?sslmode=bogus", "malformed database URI"},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			home := t.TempDir()
			s, err := OpenAt(context.Background(), Location{Home: home, DB: tt.uri, DBOrigin: origin})
			if err == nil {
				s.Close()
				t.Fatal("OpenAt succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) || !strings.Contains(msg, origin) {
				t.Errorf("error %q should say %q and where the URI was set (%s)", msg, tt.want, origin)
			}
			if strings.Contains(msg, "s3cret") {
				t.Errorf("error %q repeats the password", msg)
			}
			if entries, _ := os.ReadDir(home); len(entries) > 0 {
				t.Errorf("OpenAt created %v under the home", entries)
			}
		})
	}
}

// TestMigrationsAppliedOnceByConcurrentOpens opens one empty database from eight stores at once: each
// migration runs once (a second run would fail: CREATE TABLE without IF NOT EXISTS), and all opens succeed.
func TestMigrationsAppliedOnceByConcurrentOpens(t *testing.T) {
	t.Parallel()
	loc := freshLocation(t, "postgres")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			s, err := OpenAt(context.Background(), loc)
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	db := openAtVersion(t, loc, dialectMigrations(true)) // at the latest version already: applies nothing
	defer db.Close()
	var v int
	if err := db.QueryRow(`SELECT version FROM ` + schemaVersionTable).Scan(&v); err != nil || v != len(migrations) {
		t.Fatalf("schema version %d (%v), want %d", v, err, len(migrations))
	}
}

// TestPostgresGoesAwayMidTransaction stops the server (immediate shutdown, as a crash) while a PutCluster is
// inside its transaction: the call fails with an error naming the cluster, nothing of it is written, a
// cluster lock held over the crash is reported lost on unlock, and the same store works once the server is back.
func TestPostgresGoesAwayMidTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := pgtest.Start(t) // its own server: this test stops it
	loc := Location{Home: t.TempDir(), DB: srv.NewDatabase(t), DBOrigin: "the test"}
	s := openTest(t, loc)
	a := sampleCluster("a")
	a.Status = StatusUp
	if err := s.PutCluster(ctx, a); err != nil {
		t.Fatal(err)
	}
	unlock, err := s.LockCluster(ctx, "held")
	if err != nil {
		t.Fatal(err)
	}

	// Block PutCluster("b") part way: after its inserts, at its read of usage_intervals.
	blocker, err := pgx.Connect(ctx, loc.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close(ctx)
	tx, err := blocker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE usage_intervals IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	putErr := make(chan error, 1)
	go func() {
		b := sampleCluster("b")
		b.Status = StatusUp
		putErr <- s.PutCluster(ctx, b)
	}()
	waitForLockWaiter(t, tx)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	err = <-putErr
	if err == nil || !strings.Contains(err.Error(), `save cluster "b"`) || !strings.Contains(err.Error(), "nothing of it was written") {
		t.Fatalf("PutCluster while the server went away: %v, want an error naming the cluster and saying nothing was written", err)
	}
	t.Logf("the error: %v", err)

	if err := srv.RestartOnPort(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetCluster(ctx, "b"); !IsNotFound(err) {
		t.Fatalf("GetCluster(b) after the crash: %v, want not found (nothing half-written)", err)
	}
	hist, err := s.ClusterHistory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0].Name != "a" {
		t.Fatalf("history after the crash has %d entries, want only a's", len(hist))
	}
	if err := unlock(); err == nil || !strings.Contains(err.Error(), "the lock was lost with its connection") {
		t.Errorf("unlock of a lock whose connection died: %v, want an error saying it was lost", err)
	}
	again, err := s.TryLockCluster(ctx, "held")
	if err != nil {
		t.Fatalf("TryLockCluster after the crash: %v", err)
	}
	again()
}

// waitForLockWaiter returns once another session of the database waits for a lock; tx's session holds it.
func waitForLockWaiter(t *testing.T, tx pgx.Tx) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a safety net, not a timing check
	defer cancel()
	for {
		var n int
		err := tx.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		if err != nil {
			t.Fatal(fmt.Errorf("wait for the blocked statement: %w", err))
		}
		if n > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("PutCluster never reached the locked table")
		case <-time.After(10 * time.Millisecond):
		}
	}
}
