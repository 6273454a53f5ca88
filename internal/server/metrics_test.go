package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/embedded"
	"github.com/stix-run/stix/internal/metrics/metricstest"
	"github.com/stix-run/stix/internal/server"
	"github.com/stix-run/stix/internal/store"
)

// scrape GETs url/metrics and parses it with Prometheus's parser.
func scrape(t *testing.T, url string) metricstest.Families {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics: %s %q\n%s", resp.Status, resp.Header.Get("Content-Type"), b)
	}
	return metricstest.Parse(t, b)
}

// want checks one counter or gauge sample.
func want(t *testing.T, f metricstest.Families, v float64, name string, labels ...string) {
	t.Helper()
	got, ok := f.Value(name, labels...)
	if !ok || got != v {
		t.Errorf("%s%q = %v (present: %v), want %v", name, labels, got, ok, v)
	}
}

func do(t *testing.T, method, url, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// Requests of each kind, then a scrape: HTTP requests by route, method and status class (unknown routes and
// odd methods under fixed labels), latencies, requests in flight by state and finished by name and state.
func TestMetricsCountRequests(t *testing.T) {
	t.Parallel()
	cr := newCore()
	_, c, url := start(t, t.TempDir(), cr)
	ctx := context.Background()

	for range 3 {
		if _, err := c.Status(ctx, nil, false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := api.Wait(c.Stop(ctx, "dev")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Job(ctx, "dev", 7); err == nil {
		t.Fatal("job 7 found")
	}
	do(t, "GET", url+"/no/such/route", "")
	do(t, "BREW", url+"/api/health", "")
	do(t, "POST", url+"/api/v1/stop", "{not json")
	// One request held RUNNING, one cancelled.
	held, err := c.Down(ctx, "held", false)
	if err != nil {
		t.Fatal(err)
	}
	<-cr.started
	cancelled, err := c.Down(ctx, "gone", false)
	if err != nil {
		t.Fatal(err)
	}
	<-cr.started
	if _, err := c.CancelRequests(ctx, []string{cancelled.ID}, false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := cancelled.Wait(); err == nil {
		t.Fatal("the cancelled request succeeded")
	}

	f := scrape(t, url)
	want(t, f, 3, "sky_apiserver_requests_total", "path", "/api/v1/clusters", "method", "GET", "status", "2xx")
	want(t, f, 1, "sky_apiserver_requests_total", "path", "/api/v1/stop", "method", "POST", "status", "2xx")
	want(t, f, 1, "sky_apiserver_requests_total", "path", "/api/v1/stop", "method", "POST", "status", "4xx")
	want(t, f, 1, "sky_apiserver_requests_total", "path", "/api/v1/clusters/{cluster}/jobs/{id}", "method", "GET", "status", "4xx")
	want(t, f, 1, "sky_apiserver_requests_total", "path", "unmatched", "method", "GET", "status", "4xx")
	want(t, f, 1, "sky_apiserver_requests_total", "path", "unmatched", "method", "OTHER", "status", "4xx")
	if h := f.Metric("sky_apiserver_request_duration_seconds", "path", "/api/v1/clusters", "method", "GET", "status", "2xx").GetHistogram(); h.GetSampleCount() != 3 || h.GetSampleSum() <= 0 {
		t.Errorf("latency of GET /api/v1/clusters: %v", h)
	}
	// Streams (the request events the client followed) are counted, but their duration is not a latency.
	if v, _ := f.Value("sky_apiserver_requests_total", "path", "/api/v1/requests/{id}/events", "method", "GET", "status", "2xx"); v < 1 {
		t.Errorf("event streams counted %v times", v)
	}
	if m := f.Metric("sky_apiserver_request_duration_seconds", "path", "/api/v1/requests/{id}/events", "method", "GET", "status", "2xx"); m != nil {
		t.Errorf("a stream's duration was observed: %v", m)
	}
	want(t, f, 1, "stix_apiserver_requests_in_flight", "status", "RUNNING")
	want(t, f, 0, "stix_apiserver_requests_in_flight", "status", "PENDING")
	want(t, f, 1, "stix_apiserver_requests_finished_total", "name", "stop", "status", "SUCCEEDED")
	want(t, f, 1, "stix_apiserver_requests_finished_total", "name", "down", "status", "CANCELLED")
	if h := f.Metric("stix_apiserver_request_run_seconds", "name", "stop", "status", "SUCCEEDED").GetHistogram(); h.GetSampleCount() != 1 {
		t.Errorf("run time of stop: %v", h)
	}
	// This scrape is in flight while it is written (and the held request's follower may be).
	if v, _ := f.Value("stix_apiserver_http_requests_in_flight"); v < 1 {
		t.Errorf("stix_apiserver_http_requests_in_flight = %v, want the scrape itself at least", v)
	}
	want(t, f, 1, "stix_build_info", "version", "test", "commit", "abc")
	if v, _ := f.Value("go_goroutines"); v < 1 {
		t.Errorf("go_goroutines = %v", v)
	}

	close(cr.release)
	if _, err := held.Wait(); err != nil {
		t.Fatal(err)
	}
	f = scrape(t, url)
	want(t, f, 0, "stix_apiserver_requests_in_flight", "status", "RUNNING")
	want(t, f, 1, "stix_apiserver_requests_finished_total", "name", "down", "status", "SUCCEEDED")
	want(t, f, 1, "sky_apiserver_requests_total", "path", "/metrics", "method", "GET", "status", "2xx")
}

// Concurrent requests and scrapes lose no count (run with -race).
func TestMetricsConcurrentCounts(t *testing.T) {
	t.Parallel()
	_, _, url := start(t, t.TempDir(), newCore())
	const clients, each = 50, 10
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if resp := do(t, "GET", url+"/api/health", ""); resp.StatusCode != 200 {
					t.Errorf("health: %s", resp.Status)
				}
			}
			if i%10 == 0 {
				scrape(t, url)
			}
		}()
	}
	wg.Wait()
	f := scrape(t, url)
	want(t, f, clients*each, "sky_apiserver_requests_total", "path", "/api/health", "method", "GET", "status", "2xx")
	if h := f.Metric("sky_apiserver_request_duration_seconds", "path", "/api/health", "method", "GET", "status", "2xx").GetHistogram(); h.GetSampleCount() != clients*each {
		t.Errorf("latency samples: %d, want %d", h.GetSampleCount(), clients*each)
	}
}

// countingCore is the real core, counting the calls that /metrics makes of it.
type countingCore struct {
	api.Client
	status, queue atomic.Int64
}

func (c *countingCore) Status(ctx context.Context, names []string, refresh bool) ([]api.Cluster, error) {
	c.status.Add(1)
	return c.Client.Status(ctx, names, refresh)
}

func (c *countingCore) Queue(ctx context.Context, name string, skipFinished bool) ([]api.Job, error) {
	c.queue.Add(1)
	return c.Client.Queue(ctx, name, skipFinished)
}

// Clusters by state come from the real core's state database; an UP cluster whose head cannot be reached counts
// as unreachable; a storm of scrapes asks the core once.
func TestMetricsClusters(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	st, err := store.Open(context.Background(), home)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range []store.ClusterStatus{store.StatusStopped, store.StatusStopped, store.StatusInit, store.StatusUp} {
		// The UP cluster is on a cloud with no node to answer: its job queue cannot be read.
		c := &store.Cluster{Name: fmt.Sprintf("c%d", i), Status: s, Cloud: "aws", Region: "us-east-1", NumNodes: 1,
			LaunchedAt: time.Now(), Autostop: store.Autostop{IdleMinutes: store.AutostopOff}}
		if err := st.PutCluster(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	core := &countingCore{Client: embedded.New(embedded.Options{Core: cluster.Options{Home: home}})}
	t.Cleanup(func() { core.Close() })
	_, _, url := start(t, filepath.Join(home, "server"), core)

	var wg sync.WaitGroup
	fams := make([]metricstest.Families, 20)
	for i := range fams {
		wg.Add(1)
		go func() { defer wg.Done(); fams[i] = scrape(t, url) }()
	}
	wg.Wait()
	for _, f := range fams {
		want(t, f, 2, "stix_clusters", "status", "STOPPED")
		want(t, f, 1, "stix_clusters", "status", "INIT")
		want(t, f, 1, "stix_clusters", "status", "UP")
		want(t, f, 0, "stix_cluster_jobs", "status", "RUNNING")
		want(t, f, 1, "stix_cluster_jobs_unreachable")
	}
	if n, q := core.status.Load(), core.queue.Load(); n != 1 || q != 1 {
		t.Errorf("20 scrapes listed the clusters %d times and read %d queues, want once each", n, q)
	}
}

// Every line the server logs for an HTTP request carries its ID (the caller's X-Request-ID when well-formed),
// answered in the response; a request's lines carry its request ID and the ID of the HTTP call that submitted it.
func TestLogLinesCarryIDs(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	s, err := server.New(context.Background(), server.Options{Dir: t.TempDir(), Client: newCore(),
		Log: slog.New(slog.NewJSONHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	h := s.Handler()

	serve := func(method, path, body, id string) *httptest.ResponseRecorder {
		req, _ := http.NewRequest(method, path, strings.NewReader(body))
		if id != "" {
			req.Header.Set(server.HeaderHTTPID, id)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if got := serve("GET", "/api/health", "", "trace-42").Header().Get(server.HeaderHTTPID); got != "trace-42" {
		t.Errorf("X-Request-ID answered %q, want the caller's trace-42", got)
	}
	if got := serve("GET", "/api/health", "", "bad id\nforged").Header().Get(server.HeaderHTTPID); got == "" || strings.ContainsAny(got, " \n") {
		t.Errorf("a malformed X-Request-ID was answered as %q, want a new ID", got)
	}
	res := serve("POST", "/api/v1/stop", `{"cluster":"dev"}`, "submit-1")
	var sub api.Submitted
	if err := json.Unmarshal(res.Body.Bytes(), &sub); err != nil {
		t.Fatal(err)
	}
	// Follow the request to its end; its "request ended" line comes just after.
	serve("GET", "/api/v1/requests/"+sub.ID+"/events?follow=true", "", "")
	for end := time.Now().Add(time.Minute); !bytes.Contains(buf.Bytes(), []byte(`"msg":"request ended"`)); {
		if time.Now().After(end) {
			t.Fatalf("no \"request ended\" line:\n%s", buf.Bytes())
		}
		time.Sleep(5 * time.Millisecond)
	}

	lines := map[string][]map[string]any{}
	for _, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines[m["msg"].(string)] = append(lines[m["msg"].(string)], m)
	}
	for _, l := range lines["http"] {
		if l["http_id"] == nil || l["http_id"] == "" {
			t.Errorf("access line without http_id: %v", l)
		}
	}
	if l := lines["http"][0]; l["http_id"] != "trace-42" {
		t.Errorf("first access line: %v, want http_id trace-42", l)
	}
	for _, msg := range []string{"request started", "request ended"} {
		if len(lines[msg]) != 1 || lines[msg][0]["request_id"] != sub.ID || lines[msg][0]["http_id"] != "submit-1" {
			t.Errorf("%q lines: %v, want one with request_id %s and http_id submit-1", msg, lines[msg], sub.ID)
		}
	}
}

// syncBuffer is a log destination written by the server's goroutines and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// Jobs by state come from each UP cluster's job queue: a real local cluster, launched through the server, with a
// job that runs until the cluster goes down.
func TestMetricsJobsOnARealCluster(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	core := embedded.New(embedded.Options{Core: cluster.Options{Home: home}})
	t.Cleanup(func() { core.Close() })
	_, c, url := start(t, filepath.Join(home, "server"), core)
	ctx := context.Background()
	if _, err := api.Wait(c.Launch(ctx, api.LaunchRequest{Task: api.TaskSpec{Command: "sleep 600"},
		Options: api.LaunchOptions{ClusterName: "m1"}})); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := api.Wait(core.Down(context.Background(), "m1", false)); err != nil {
			t.Error(err)
		}
	})
	f := scrape(t, url)
	want(t, f, 1, "stix_clusters", "status", "UP")
	want(t, f, 0, "stix_cluster_jobs_unreachable")
	unfinished := 0.0
	for _, s := range []api.JobStatus{api.JobInit, api.JobPending, api.JobSettingUp, api.JobRunning} {
		v, _ := f.Value("stix_cluster_jobs", "status", string(s))
		unfinished += v
	}
	if unfinished != 1 {
		t.Errorf("unfinished jobs: %v, want the one launched", unfinished)
	}
	want(t, f, 1, "stix_apiserver_requests_finished_total", "name", "launch", "status", "SUCCEEDED")
}

// BenchmarkMetricsScrape: one GET /metrics after a few requests of each kind, the fleet counts cached.
func BenchmarkMetricsScrape(b *testing.B) {
	s, err := server.New(context.Background(), server.Options{Dir: b.TempDir(), Client: newCore(),
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	h := s.Handler()
	for _, path := range []string{"/api/health", "/api/v1/clusters", "/no/such/route", "/api/v1/requests", "/metrics"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
