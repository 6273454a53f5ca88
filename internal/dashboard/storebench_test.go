package dashboard_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/embedded"
	"github.com/stix-run/stix/internal/jobs"
	"github.com/stix-run/stix/internal/jobs/jobstest"
	"github.com/stix-run/stix/internal/server"
	"github.com/stix-run/stix/internal/store"
)

// fleetStore is a real state store (SQLite under a temporary STIX_HOME) holding a fleet written straight into
// its tables, one transaction per kind: clusters with their history and usage (a third STOPPED), finished
// managed jobs (jobstest.FillFinished: n of alice, n/10 of bob) and finished requests of ten users.
type fleetStore struct {
	home string
	loc  store.Location
	st   store.Store
}

func newFleetStore(tb testing.TB, clusters, managedJobs, requests int) *fleetStore {
	tb.Helper()
	ctx := context.Background()
	home := tb.TempDir()
	loc := store.Location{Home: home}
	st, err := store.OpenAt(ctx, loc)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	// The managed jobs' tables are made by their store.
	if _, err := jobs.OpenStore(st); err != nil {
		tb.Fatal(err)
	}
	f := &fleetStore{home: home, loc: loc, st: st}
	if err := f.seedClusters(ctx, clusters); err != nil {
		tb.Fatal(err)
	}
	if managedJobs > 0 {
		if err := jobstest.FillFinished(ctx, st, managedJobs); err != nil {
			tb.Fatal(err)
		}
	}
	if err := f.seedRequests(ctx, requests); err != nil {
		tb.Fatal(err)
	}
	return f
}

func (f *fleetStore) seedClusters(ctx context.Context, n int) error {
	sq, _ := store.SQLOf(f.st)
	tx, err := sq.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := time.Now()
	for i := range n {
		name, id := fmt.Sprintf("cluster-%04d", i), fmt.Sprintf("hist-%04d", i)
		launched := now.Add(-time.Duration(i) * time.Minute).UnixNano()
		status := "UP"
		if i%3 == 0 {
			status = "STOPPED"
		}
		if _, err := tx.ExecContext(ctx, sq.Q(`INSERT INTO cluster_history (id, name, cloud, region, zone, num_nodes, resources, hourly_price,
			launched_at, status, status_updated_at) VALUES (?, ?, 'aws', 'us-east-1', '', 2, ?, 0.768, ?, ?, ?)`),
			id, name, `{"instance_type":"m5.2xlarge","cpus":8,"memory_gb":32}`, launched, status, launched); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, sq.Q(`INSERT INTO clusters (name, history_id, handle, launched_at, last_use_at, last_use_command,
			autostop_idle_minutes, autostop_down, user_name, config_hash, cluster_yaml) VALUES (?, ?, '', ?, ?, 'stix launch', 30, FALSE, ?, '', '')`),
			name, id, launched, launched, fmt.Sprintf("user%d", i%10)); err != nil {
			return err
		}
		var end any
		if status == "STOPPED" {
			end = launched + int64(time.Minute)
		}
		if _, err := tx.ExecContext(ctx, sq.Q(`INSERT INTO usage_intervals (history_id, start_at, end_at) VALUES (?, ?, ?)`), id, launched, end); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (f *fleetStore) seedRequests(ctx context.Context, n int) error {
	sq, _ := store.SQLOf(f.st)
	tx, err := sq.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	t0 := time.Now().Add(-time.Duration(n) * time.Second).UnixNano()
	for i := range n {
		q := seededRequest(i)
		at := t0 + int64(i)*int64(time.Second)
		if _, err := tx.ExecContext(ctx, sq.Q(`INSERT INTO requests (id, name, user_name, cluster, created, finished, status, body, result)
			VALUES (?, ?, ?, ?, ?, ?, ?, '{}', '{}')`), q.ID, q.Name, q.User, q.Cluster, at, at+int64(time.Second), q.Status); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// seededRequest is the i-th request seedRequests writes (its times aside): ten users, four calls, three final
// states, a thousand clusters.
func seededRequest(i int) api.Request {
	return api.Request{ID: fmt.Sprintf("%08x-seeded-request-%06d", uint64(i)*2654435761%(1<<32), i),
		Name: []string{"launch", "stop", "down", "exec"}[i%4], User: fmt.Sprintf("user%d", i%10),
		Cluster: fmt.Sprintf("cluster-%04d", i%1000), Status: []api.RequestStatus{api.RequestSucceeded, api.RequestFailed, api.RequestCancelled}[(i/4)%3]}
}

// serve is an API server whose core (a real embedded core and managed-jobs controller, not started: the
// jobs are finished) and request queue read the fleet's store.
func (f *fleetStore) serve(tb testing.TB, opts server.Options) *server.Server {
	tb.Helper()
	core := embedded.New(embedded.Options{Core: cluster.Options{Home: f.home}})
	tb.Cleanup(func() { core.Close() })
	dir := filepath.Join(f.home, "server")
	ctl, err := jobs.New(jobs.Options{Core: core, State: f.st, Dir: dir, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ctl.Close() })
	opts.Dir, opts.State, opts.Client = dir, f.loc, ctl.Client()
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s, err := server.New(context.Background(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// BenchmarkStorePages: each page's server time and weight (before compression) over a real SQLite store of
// 1000 clusters, 11 000 managed jobs and 10 000 requests, as an admin (every row), against the same pages over
// the in-memory fake core of bench_test.go (bigFleet: the same counts of clusters and jobs, no store) in the
// same run. The figures are in BENCHMARKS.md.
// go test ./internal/dashboard -run '^$' -bench StorePages -benchtime 30x
func BenchmarkStorePages(b *testing.B) {
	start := time.Now()
	f := newFleetStore(b, 1000, 10_000, 10_000)
	b.Logf("seeded 1000 clusters, 11 000 managed jobs, 10 000 requests in %v", time.Since(start).Round(time.Millisecond))
	real := f.serve(b, server.Options{}).Handler()
	fake, err := server.New(context.Background(), server.Options{Dir: b.TempDir(), Client: bigFleet(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer fake.Close(context.Background())
	for _, path := range []string{"/dashboard/clusters", "/dashboard/clusters?sort=cost&desc=1&q=user3&page=2",
		"/dashboard/jobs", "/dashboard/jobs?state=SUCCEEDED&sort=recoveries&page=50", "/dashboard/jobs?q=train-12&sort=name",
		"/dashboard/jobs?sort=recoveries&page=50", "/dashboard/jobs?state=SUCCEEDED&page=50", "/dashboard/requests",
		"/dashboard/requests?state=FAILED&q=cluster-01&sort=user&page=2", "/dashboard/costs", "/dashboard/users"} {
		for _, s := range []struct {
			name string
			h    http.Handler
		}{{"store", real}, {"fake", fake.Handler()}} {
			b.Run(s.name+path, func(b *testing.B) {
				var size int
				for b.Loop() {
					rec := httptest.NewRecorder()
					s.h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
					if rec.Code != http.StatusOK {
						b.Fatalf("%s: %d %.300s", path, rec.Code, rec.Body)
					}
					size = rec.Body.Len()
				}
				b.ReportMetric(float64(size), "bytes/page")
			})
		}
	}
}
