package dashboard_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli/fakeclient"
	"github.com/stix-run/stix/internal/server"
)

// bigFleet is a core answering 1000 clusters, each with 20 jobs, and 10 000 managed jobs: the rendering and
// filtering the dashboard does, without the store's own time.
func bigFleet() api.Client {
	now := time.Now()
	clusters := make([]api.Cluster, 1000)
	report := make([]api.CostReportEntry, 1000)
	for i := range clusters {
		st := api.ClusterUp
		if i%3 == 0 {
			st = api.ClusterStopped
		}
		clusters[i] = api.Cluster{Name: fmt.Sprintf("cluster-%04d", i), Status: st, User: fmt.Sprintf("user%d", i%10),
			Infra: "AWS (us-east-1)", Resources: "2x(m5.2xlarge, cpus=8, mem=32)", NumNodes: 2,
			LaunchedAt: now.Add(-time.Duration(i) * time.Minute), AutostopMins: 30, HourlyPrice: 0.768}
		report[i] = api.CostReportEntry{Name: clusters[i].Name, Status: string(st), TotalCost: float64(i) / 10}
	}
	jobs := make([]api.ManagedJob, 10000)
	for i := range jobs {
		jobs[i] = api.ManagedJob{ID: int64(i + 1), Name: fmt.Sprintf("train-%d", i), User: fmt.Sprintf("user%d", i%10),
			Status: api.ManagedSucceeded, Resources: "1x[A100:8]", Infra: "GCP (us-central1)", SubmittedAt: now.Add(-time.Duration(i) * time.Minute),
			Recoveries: i % 3, JobDuration: api.Seconds(time.Hour)}
	}
	queue := make([]api.Job, 20)
	for i := range queue {
		queue[i] = api.Job{ID: i + 1, Name: "step", User: "user0", Status: api.JobSucceeded, SubmittedAt: now, Resources: "1x[CPU:1]", NumNodes: 1}
	}
	return &fakeclient.Client{
		StatusFunc: func(names []string, _ bool) ([]api.Cluster, error) {
			if len(names) == 1 {
				for _, c := range clusters {
					if c.Name == names[0] {
						return []api.Cluster{c}, nil
					}
				}
				return nil, &api.ClusterNotFoundError{Name: names[0]}
			}
			return clusters, nil
		},
		CostReportFunc: func() ([]api.CostReportEntry, error) { return report, nil },
		QueueFunc:      func(string, bool) ([]api.Job, error) { return queue, nil },
		NodesFunc: func(string) ([]api.ClusterNode, error) {
			return []api.ClusterNode{
				{Rank: 0, Role: "head", InternalIP: "10.0.0.1", ExternalIP: "203.0.113.1", Status: api.ClusterUp, Cloud: "aws",
					Region: "us-east-1", Zone: "us-east-1a", InstanceType: "m5.2xlarge", CPUs: 8, MemoryGB: 32},
				{Rank: 1, Role: "worker", InternalIP: "10.0.0.2", Status: api.ClusterUp, Cloud: "aws",
					Region: "us-east-1", Zone: "us-east-1a", InstanceType: "m5.2xlarge", CPUs: 8, MemoryGB: 32},
			}, nil
		},
		JobsQueueFunc: func(o api.JobsQueueOptions) ([]api.ManagedJob, error) {
			if len(o.IDs) == 1 {
				return []api.ManagedJob{jobs[o.IDs[0]-1]}, nil
			}
			return jobs, nil
		},
		ServeStatusFunc: func([]string) ([]api.Service, error) { return nil, nil },
	}
}

// BenchmarkPages: the server's time for each page (an admin's: every row) and its weight before compression.
// go test ./internal/dashboard -run '^$' -bench Pages -benchtime 50x
func BenchmarkPages(b *testing.B) {
	s, err := server.New(context.Background(), server.Options{Dir: b.TempDir(), Client: bigFleet(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	h := s.Handler()
	for _, path := range []string{"/dashboard/clusters", "/dashboard/clusters?sort=cost&desc=1&q=user3&page=2",
		"/dashboard/clusters/cluster-0500", "/dashboard/jobs", "/dashboard/jobs?state=SUCCEEDED&sort=recoveries&page=50",
		"/dashboard/jobs/5000", "/dashboard/costs", "/dashboard/costs?sort=name&page=5", "/dashboard/static/style.css",
		"/dashboard/static/app.js"} {
		b.Run(path, func(b *testing.B) {
			var size int
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d", path, rec.Code)
				}
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(size), "bytes/page")
		})
	}
}

// BenchmarkRequestsPage: the requests page over a real request store (SQLite) holding 2000 requests: the
// store's read of them all, the sort, one page of 100 rows.
// go test ./internal/dashboard -run '^$' -bench RequestsPage -benchtime 30x
func BenchmarkRequestsPage(b *testing.B) {
	s, err := server.New(context.Background(), server.Options{Dir: b.TempDir(), Client: bigFleet(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	h := s.Handler()
	for i := range 2000 {
		rec := httptest.NewRecorder()
		body := strings.NewReader(fmt.Sprintf(`{"cluster":"cluster-%04d"}`, i%1000))
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/stop", body))
		if rec.Code != http.StatusAccepted {
			b.Fatalf("stop %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	// Measure the page alone: wait until no request is in flight (they fail at once: the fake core has no Stop).
	deadline := time.Now().Add(2 * time.Minute)
	for {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/requests", nil))
		if strings.TrimSpace(rec.Body.String()) == "[]" {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("requests still in flight after two minutes: %.200s", rec.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, path := range []string{"/dashboard/requests", "/dashboard/requests?sort=user&q=cluster-01&page=2"} {
		b.Run(path, func(b *testing.B) {
			var size int
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d", path, rec.Code)
				}
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(size), "bytes/page")
		})
	}
}
