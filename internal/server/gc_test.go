package server_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/server"
	"github.com/stix-run/stix/internal/store"
	"github.com/stix-run/stix/internal/testutil/pgtest"
	"github.com/stix-run/stix/internal/upload"
)

// TestGarbageCollection, on SQLite and PostgreSQL, with explicit collections at chosen times: finished requests
// older than the retention go with their events and their expired lease rows; a live request, its lease and its
// uploads stay; an upload pinned by GCOptions.UploadsInUse stays; an unused upload older than the TTL goes; a
// server that finds another collecting does nothing.
func TestGarbageCollection(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			loc := store.Location{Home: t.TempDir()}
			if backend == "postgres" {
				loc.DB, loc.DBOrigin = pgtest.Shared(t).NewDatabase(t), "the test"
			}
			ctx := context.Background()
			core := newCore()
			released := make(chan struct{})
			core.LaunchFunc = func(api.LaunchRequest) (api.LaunchResult, error) {
				<-released
				return api.LaunchResult{ClusterName: "dev"}, nil
			}
			core.StartFunc = func(string) error { return nil }
			core.StartEvents = []api.Event{{Type: api.EventStep, Msg: "Starting dev"}}
			var pinned []string
			uploads := filepath.Join(dir, "uploads")
			s, hc, url := serve(t, server.Options{Dir: dir, State: loc, Client: core,
				Uploads: upload.NewHandler(uploads, upload.Limits{}), UploadRoutes: upload.Routes, UploadDir: uploads,
				GC: server.GCOptions{Interval: -1, UploadsInUse: func(context.Context) ([]string, error) { return pinned, nil }}})
			release := sync.OnceFunc(func() { close(released) })
			t.Cleanup(release)

			tree := func(name string) string {
				src := t.TempDir()
				if err := os.WriteFile(filepath.Join(src, name), []byte(name), 0o644); err != nil {
					t.Fatal(err)
				}
				id, err := upload.Push(ctx, url+"/api/v1/uploads", http.DefaultClient, src, upload.PushOptions{})
				if err != nil {
					t.Fatal(err)
				}
				return id
			}
			live, pin, unused := tree("live"), tree("pinned"), tree("unused")
			pinned = []string{pin}
			launch, err := hc.Launch(ctx, api.LaunchRequest{Task: api.TaskSpec{Command: "true", Uploads: map[string]string{"wd": live}}})
			if err != nil {
				t.Fatal(err)
			}
			start, err := hc.Start(ctx, "dev")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := start.Wait(); err != nil {
				t.Fatal(err)
			}

			if n := leaseRows(t, loc, "request/"+start.ID); n != 1 {
				t.Fatalf("the ended request's released lease: %d rows, want 1 (expired)", n)
			}

			// Now: everything is younger than the retention and the TTL; the ended request's lease row goes.
			rep, err := s.CollectGarbage(ctx, time.Now().Add(time.Minute))
			if err != nil || rep.Requests != 0 || rep.Leases != 1 || rep.Uploads != (upload.Collected{}) {
				t.Fatalf("collection now = %+v, %v; want one lease row and no request nor upload removed", rep, err)
			}

			// Two days on: the finished start goes, with its events; the running launch, its lease and its
			// upload stay; so does the pinned upload; the unused one goes.
			rep, err = s.CollectGarbage(ctx, time.Now().Add(48*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Skipped || rep.Requests != 1 || rep.Events == 0 || rep.Uploads.Trees != 1 {
				t.Errorf("collection two days on = %+v; want the start request, its events and one tree removed", rep)
			}
			var nf *api.Error
			if _, err := hc.Request(ctx, start.ID); !errors.As(err, &nf) || nf.Code != api.CodeRequestNotFound {
				t.Errorf("the collected start request: %v, want request_not_found", err)
			}
			// Unfinished: RUNNING, or still PENDING on a loaded machine where its worker has not picked it up.
			if q, err := hc.Request(ctx, launch.ID); err != nil || (q.Status != api.RequestRunning && q.Status != api.RequestPending) {
				t.Errorf("the unfinished launch after collection: %+v, %v", q, err)
			}
			if n := leaseRows(t, loc, "request/"+start.ID); n != 0 {
				t.Errorf("the start request's lease: %d rows, want 0", n)
			}
			if n := leaseRows(t, loc, "request/"+launch.ID); n != 1 {
				t.Errorf("the running launch's lease: %d rows, want 1", n)
			}
			for id, want := range map[string]bool{live: true, pin: true, unused: false} {
				if _, err := upload.Resolve(uploads, id); (err == nil) != want {
					t.Errorf("upload %s after collection: %v, want kept %v", id[:8], err, want)
				}
			}

			// Another server collecting (it holds the lease): this one does nothing.
			st, err := store.OpenAt(ctx, loc)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := st.AcquireLease(ctx, "api-server/gc", "another server", time.Hour); err != nil {
				t.Fatal(err)
			}
			if rep, err := s.CollectGarbage(ctx, time.Now().Add(48*time.Hour)); err != nil || !rep.Skipped {
				t.Errorf("collection while another server collects = %+v, %v; want skipped", rep, err)
			}
			if err := st.ReleaseLease(ctx, "api-server/gc", "another server"); err != nil {
				t.Fatal(err)
			}

			// The launch ends: it and its upload go once old; the pinned upload stays.
			release()
			if _, err := launch.Wait(); err != nil {
				t.Fatal(err)
			}
			rep, err = s.CollectGarbage(ctx, time.Now().Add(48*time.Hour))
			if err != nil || rep.Requests != 1 || rep.Uploads.Trees != 1 {
				t.Errorf("collection after the launch ended = %+v, %v; want it and its upload removed", rep, err)
			}
			if _, err := upload.Resolve(uploads, pin); err != nil {
				t.Errorf("the pinned upload: %v", err)
			}
		})
	}
}

// leaseRows counts the lease rows named name in the state database at loc.
func leaseRows(t *testing.T, loc store.Location, name string) int {
	t.Helper()
	st, err := store.OpenAt(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sq, _ := store.SQLOf(st)
	var n int
	if err := sq.DB.QueryRow(sq.Q(`SELECT COUNT(*) FROM leases WHERE name = ?`), name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A server over a directory where an older stix recorded its requests (server/requests.db, before they moved to
// the state database) does not import them, and says so in its log, naming the file.
func TestLegacyRequestsFileIsReported(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	legacy := filepath.Join(dir, "requests.db")
	if err := os.WriteFile(legacy, []byte("SQLite format 3\x00"), 0o600); err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	serve(t, server.Options{Dir: dir, Client: newCore(), Log: slog.New(slog.NewJSONHandler(&log, nil))})
	var found bool
	for _, l := range strings.Split(string(log.Bytes()), "\n") {
		found = found || strings.Contains(l, "are not imported") && strings.Contains(l, `"file":"`+legacy+`"`)
	}
	if !found {
		t.Errorf("no log line about %s in:\n%s", legacy, log.Bytes())
	}
}

// TestGarbageCollectionRemovesExpiredSessions: a collection removes the dashboard sessions that expired (a
// browser that never came back) and keeps the live ones.
func TestGarbageCollectionRemovesExpiredSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	loc := store.Location{Home: t.TempDir()}
	s, _, _ := serve(t, server.Options{Dir: t.TempDir(), State: loc, Client: newCore(), GC: server.GCOptions{Interval: -1}})
	st, err := store.OpenAt(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sq, _ := store.SQLOf(st)
	now := time.Now()
	for id, expires := range map[string]time.Time{"gone": now.Add(-time.Minute), "live": now.Add(time.Hour)} {
		if _, err := sq.DB.ExecContext(ctx, sq.Q(`INSERT INTO dashboard_sessions (id, user_name, method, credential, created_at, expires_at)
			VALUES (?, 'bob', 'token', 'x', ?, ?)`), id, now.Add(-2*time.Hour).UnixNano(), expires.UnixNano()); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := s.CollectGarbage(ctx, now)
	if err != nil || rep.Sessions != 1 {
		t.Fatalf("collection: %+v, %v; want the expired session removed", rep, err)
	}
	var left string
	if err := sq.DB.QueryRowContext(ctx, `SELECT id FROM dashboard_sessions`).Scan(&left); err != nil || left != "live" {
		t.Errorf("left %q (%v), want the live session alone", left, err)
	}
}
