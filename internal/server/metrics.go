package server

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/metrics"
)

// The server's Prometheus metrics (GET /metrics; docs/metrics.md lists every series). HTTP requests use
// SkyPilot's API server names, so that its dashboards work; the rest are stix's.
type serverMetrics struct {
	mux          *http.ServeMux // the routes: an HTTP request is counted under the one it matches
	reg          *metrics.Registry
	httpTotal    *metrics.CounterVec
	httpSeconds  *metrics.HistogramVec
	httpInFlight *metrics.Gauge
	reqInFlight  *metrics.GaugeVec
	reqFinished  *metrics.CounterVec
	reqSeconds   *metrics.HistogramVec
}

// Buckets: HTTP answers take milliseconds (reads of the state database) to seconds (a refresh that asks the
// clouds); requests (launch, down) take seconds to many minutes.
var (
	httpBuckets    = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
	requestBuckets = []float64{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200}
)

// unmatched is the path label of a request no route matched (any path: a label value per path would let a
// client create series without bound).
const unmatched = "unmatched"

// fleetTTL is how long the clusters and jobs counted for /metrics are kept: scrapes within it (several
// Prometheus servers, a scrape storm) read the counts of the last one instead of asking the core again.
const fleetTTL = 10 * time.Second

func newServerMetrics(base context.Context, mux *http.ServeMux, log *slog.Logger, c api.Client, version, commit string) *serverMetrics {
	r := metrics.NewRegistry()
	m := &serverMetrics{
		mux: mux,
		reg: r,
		httpTotal: r.Counter("sky_apiserver_requests_total",
			"HTTP requests answered by the API server, by route, method and status class.", "path", "method", "status"),
		httpSeconds: r.Histogram("sky_apiserver_request_duration_seconds",
			"Time to answer an HTTP request (streams excluded), by route, method and status class.", httpBuckets,
			"path", "method", "status"),
		httpInFlight: r.Gauge("stix_apiserver_http_requests_in_flight",
			"HTTP requests being answered now, streams included.").With(),
		reqInFlight: r.Gauge("stix_apiserver_requests_in_flight",
			"Requests (launch, exec, down, ...) this server runs now, by state: PENDING or RUNNING.", "status"),
		reqFinished: r.Counter("stix_apiserver_requests_finished_total",
			"Requests this server ran to their end, by name and final state.", "name", "status"),
		reqSeconds: r.Histogram("stix_apiserver_request_run_seconds",
			"Time from a request's submission to its end, by name and final state.", requestBuckets, "name", "status"),
	}
	for _, s := range []api.RequestStatus{api.RequestPending, api.RequestRunning} {
		m.reqInFlight.With(string(s))
	}
	r.GaugeFunc("stix_build_info", "The stix version and commit the API server runs.", []string{"version", "commit"},
		func() []metrics.Sample { return []metrics.Sample{{Labels: []string{version, commit}, Value: 1}} })
	f := &fleet{ctx: base, log: log, client: c, now: time.Now}
	r.GaugeFunc("stix_clusters", "Clusters by state, from the state database.", []string{"status"}, f.clusterSamples)
	r.GaugeFunc("stix_cluster_jobs", "Unfinished jobs on UP clusters, by state, from each cluster's job queue.",
		[]string{"status"}, f.jobSamples)
	r.GaugeFunc("stix_cluster_jobs_unreachable", "UP clusters whose job queue could not be read at the last count.",
		nil, f.unreachableSamples)
	r.RegisterRuntime()
	return m
}

// httpStarted counts an HTTP request in flight.
func (m *serverMetrics) httpStarted() {
	if m != nil {
		m.httpInFlight.Add(1)
	}
}

// httpEnded counts an answered HTTP request under its route and status class, and its duration unless it was a
// stream (NDJSON: how long a client follows says nothing of the server). The route is asked of the ServeMux
// rather than read from r.Pattern, which the mux sets only on the request it was given: a middleware between
// (r.WithContext) would hide it.
func (m *serverMetrics) httpEnded(r *http.Request, status int, contentType string, took time.Duration) {
	if m == nil {
		return
	}
	m.httpInFlight.Add(-1)
	_, pattern := m.mux.Handler(r)
	method, path, found := strings.Cut(pattern, " ")
	if !found {
		method, path = "", pattern
	}
	if method == "" {
		method = methodLabel(r.Method)
	}
	if path == "" || path == "/" { // "/" is the catch-all that answers not_found
		path = unmatched
	}
	if status == 0 {
		status = http.StatusOK // nothing written: net/http sends 200
	}
	class := strconv.Itoa(status/100) + "xx"
	m.httpTotal.With(path, method, class).Inc()
	if !strings.HasPrefix(contentType, "application/x-ndjson") {
		m.httpSeconds.With(path, method, class).Observe(took.Seconds())
	}
}

// methodLabel keeps the standard methods and names any other "OTHER": a client may send any token.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete,
		http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// requestMoved follows a request of this process from one state to the next (from is "" when it is recorded):
// the in-flight gauges, and, when it ends, its outcome and how long it took since it was submitted.
func (m *serverMetrics) requestMoved(name string, from, to api.RequestStatus, created time.Time) {
	if m == nil {
		return
	}
	if from != "" {
		m.reqInFlight.With(string(from)).Add(-1)
	}
	if !to.IsFinal() {
		m.reqInFlight.With(string(to)).Add(1)
		return
	}
	m.reqFinished.With(name, string(to)).Inc()
	m.reqSeconds.With(name, string(to)).Observe(time.Since(created).Seconds())
}

// fleet counts clusters and jobs by state through the core (api.Client), at most once per fleetTTL: a scrape
// within it reads the last counts, and scrapes that come while a count runs wait for it rather than start
// their own.
type fleet struct {
	ctx    context.Context // the server's: a count stops when the server does
	log    *slog.Logger
	client api.Client
	now    func() time.Time

	mu          sync.Mutex
	at          time.Time
	clusters    map[string]int
	jobs        map[string]int
	unreachable int
}

// maxQueueReads bounds the job queues read at once (each asks a cluster's head node).
const maxQueueReads = 8

// countTimeout bounds one count: under Prometheus's default scrape timeout (10 s), so that a hung node
// makes its cluster unreachable rather than the scrape fail.
const countTimeout = 5 * time.Second

// counts returns the counts, taking them again when they are older than fleetTTL.
func (f *fleet) counts() (clusters, jobs map[string]int, unreachable int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.clusters == nil || f.now().Sub(f.at) >= fleetTTL {
		f.count()
		f.at = f.now()
	}
	return f.clusters, f.jobs, f.unreachable
}

// count asks the core for every cluster (from the state database, no refresh) and each UP cluster's
// unfinished jobs. A cluster whose queue cannot be read counts as unreachable; when the clusters cannot be
// listed at all the last counts stay.
func (f *fleet) count() {
	ctx, cancel := context.WithTimeout(f.ctx, countTimeout)
	defer cancel()
	clusters := map[string]int{string(api.ClusterInit): 0, string(api.ClusterUp): 0, string(api.ClusterStopped): 0}
	jobs := map[string]int{string(api.JobInit): 0, string(api.JobPending): 0, string(api.JobSettingUp): 0,
		string(api.JobRunning): 0}
	cs, err := f.client.Status(ctx, nil, false)
	if err != nil {
		f.log.Warn("count the clusters for /metrics: the last counts stay", "err", err)
		if f.clusters == nil {
			f.clusters, f.jobs = clusters, jobs
		}
		return
	}
	var (
		mu          sync.Mutex
		wg          sync.WaitGroup
		unreachable int
		slots       = make(chan struct{}, maxQueueReads)
	)
	for _, c := range cs {
		clusters[string(c.Status)]++
		if c.Status != api.ClusterUp {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			q, err := f.client.Queue(ctx, c.Name, true)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				unreachable++
				return
			}
			for _, j := range q {
				jobs[string(j.Status)]++
			}
		}()
	}
	wg.Wait()
	f.clusters, f.jobs, f.unreachable = clusters, jobs, unreachable
}

func (f *fleet) clusterSamples() []metrics.Sample {
	c, _, _ := f.counts()
	return samples(c)
}

func (f *fleet) jobSamples() []metrics.Sample {
	_, j, _ := f.counts()
	return samples(j)
}

func (f *fleet) unreachableSamples() []metrics.Sample {
	_, _, n := f.counts()
	return []metrics.Sample{{Value: float64(n)}}
}

func samples(m map[string]int) []metrics.Sample {
	out := make([]metrics.Sample, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, metrics.Sample{Labels: []string{k}, Value: float64(m[k])})
	}
	return out
}
