package server_test

import (
	"context"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/server"
	"github.com/stix-run/stix/internal/store"
	"github.com/stix-run/stix/internal/testutil/pgtest"
)

// startOn serves a Server over its own directory, recording in the shared state database loc, with lease TTL
// ttl; it goes away with the test.
func startOn(t *testing.T, loc store.Location, c api.Client, ttl time.Duration) *api.HTTPClient {
	t.Helper()
	_, hc, _ := serve(t, server.Options{Dir: t.TempDir(), State: loc, LeaseTTL: ttl, Client: c})
	return hc
}

// Two server processes over one state database (SQLite file, PostgreSQL): a request runs in the server that
// accepted it, under its lease. Another server's start leaves it alone while that lease is live; once the
// lease lapses (its server died and no longer renews it), the other server ends it FAILED server_restarted,
// and the first server's late outcome does not overwrite that end.
func TestSecondServerLeavesLiveRequestsAlone(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			loc := store.Location{Home: t.TempDir()}
			if backend == "postgres" {
				loc.DB, loc.DBOrigin = pgtest.Shared(t).NewDatabase(t), "the test"
			}
			ctx := context.Background()
			coreA := newCore()
			// A renews far less often than the test lasts: after the lease is made to lapse, A behaves as a
			// killed process does, renewing nothing.
			a := startOn(t, loc, coreA, time.Hour)
			// Released before A closes (cleanups run last first), even when the test fails early.
			release := sync.OnceFunc(func() { close(coreA.release) })
			t.Cleanup(release)
			op, err := a.Down(ctx, "dev", false)
			if err != nil {
				t.Fatal(err)
			}
			<-coreA.started
			b := startOn(t, loc, newCore(), 50*time.Millisecond)
			q, err := b.Request(ctx, op.ID)
			if err != nil || q.Status != api.RequestRunning {
				t.Fatalf("request run by A, seen by B after its start = %+v, %v; want RUNNING", q, err)
			}
			// B's own requests run under B's lease, renewed as they run.
			if _, err := api.Wait(b.Stop(ctx, "dev")); err != nil {
				t.Fatal(err)
			}
			// A dies: its lease lapses.
			st, err := store.OpenAt(ctx, loc)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			sq, _ := store.SQLOf(st)
			if _, err := sq.DB.ExecContext(ctx, sq.Q(`UPDATE leases SET expires_at = 0 WHERE name = ?`), "request/"+op.ID); err != nil {
				t.Fatal(err)
			}
			end, err := b.FollowRequest(ctx, op.ID, func(api.Event) {})
			if err != nil || end.Status != api.RequestFailed || end.Error == nil || end.Error.Code != api.CodeServerRestarted {
				t.Fatalf("request of the dead server, followed on B = %+v, %v; want FAILED server_restarted", end, err)
			}
			// A's operation ends late: the recorded end stays B's.
			release()
			if _, err := a.FollowRequest(ctx, op.ID, func(api.Event) {}); err != nil {
				t.Fatal(err)
			}
			q, err = a.Request(ctx, op.ID)
			if err != nil || q.Status != api.RequestFailed || q.Error.Code != api.CodeServerRestarted {
				t.Errorf("request after A's late end = %+v, %v; want FAILED server_restarted", q, err)
			}
		})
	}
}

// A real server process killed (SIGKILL) with a request in flight, and a second server over the same state
// database: the second one's start leaves the request alone while the first renews its lease; once the first
// is killed and its lease lapses, the second ends the request FAILED server_restarted.
func TestKilledServerProcessRequestEndedByAnother(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			loc := store.Location{Home: t.TempDir()}
			if backend == "postgres" {
				loc.DB, loc.DBOrigin = pgtest.Shared(t).NewDatabase(t), "the test"
			}
			ctx := context.Background()
			dirA := t.TempDir()
			// A renews every second; B starts at once after A accepts the request, far within A's TTL.
			l, err := server.Daemon(ctx, dirA, os.Args[0], []string{serveHelper, dirA, loc.Home, loc.DB, "3s"}, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { syscall.Kill(l.PID, syscall.SIGKILL) })
			a, err := api.NewHTTP(api.HTTPOptions{Endpoint: l.Endpoint, User: "ada"})
			if err != nil {
				t.Fatal(err)
			}
			op, err := a.Down(ctx, "dev", false)
			if err != nil {
				t.Fatal(err)
			}
			b := startOn(t, loc, newCore(), 100*time.Millisecond)
			q, err := b.Request(ctx, op.ID)
			if err != nil || q.Status.IsFinal() {
				t.Fatalf("request run by A, seen by B after its start = %+v, %v; want in flight", q, err)
			}
			if err := syscall.Kill(l.PID, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			end, err := b.FollowRequest(ctx, op.ID, func(api.Event) {})
			if err != nil || end.Status != api.RequestFailed || end.Error == nil || end.Error.Code != api.CodeServerRestarted {
				t.Fatalf("request of the killed server, followed on B = %+v, %v; want FAILED server_restarted", end, err)
			}
		})
	}
}
