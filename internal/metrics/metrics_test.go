package metrics_test

import (
	"bytes"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/stix-run/stix/internal/metrics"
	"github.com/stix-run/stix/internal/metrics/metricstest"
)

func scrape(t *testing.T, r *metrics.Registry) (metricstest.Families, string) {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return metricstest.Parse(t, b.Bytes()), b.String()
}

func TestExposition(t *testing.T) {
	t.Parallel()
	r := metrics.NewRegistry()
	c := r.Counter("test_requests_total", "Requests.\nBy path \\ status.", "path", "status")
	c.With("/a", "2xx").Inc()
	c.With("/a", "2xx").Add(2)
	c.With(`we"ird\path`+"\n", "4xx").Inc()
	g := r.Gauge("test_in_flight", "In flight.")
	g.With().Add(3)
	g.With().Add(-1)
	h := r.Histogram("test_seconds", "Latency.", []float64{0.1, 1, 10}, "route")
	for _, x := range []float64{0.05, 0.1, 0.5, 5, 50} {
		h.With("/x").Observe(x)
	}
	r.GaugeFunc("test_clusters", "Clusters by state.", []string{"status"}, func() []metrics.Sample {
		return []metrics.Sample{{Labels: []string{"UP"}, Value: 2}, {Labels: []string{"STOPPED"}, Value: 0}}
	})
	r.CounterFunc("test_cpu_seconds_total", "CPU.", nil, func() []metrics.Sample {
		return []metrics.Sample{{Value: 1.5}}
	})
	fams, text := scrape(t, r)

	for name, kind := range map[string]dto.MetricType{"test_requests_total": dto.MetricType_COUNTER,
		"test_in_flight": dto.MetricType_GAUGE, "test_seconds": dto.MetricType_HISTOGRAM,
		"test_clusters": dto.MetricType_GAUGE, "test_cpu_seconds_total": dto.MetricType_COUNTER} {
		if f := fams[name]; f == nil || f.GetType() != kind {
			t.Errorf("%s: %v, want a %v family", name, f, kind)
		}
	}
	if f := fams["test_requests_total"]; f.GetHelp() != "Requests.\nBy path \\ status." {
		t.Errorf("help %q: escaping did not round-trip", f.GetHelp())
	}
	if m := fams.Metric("test_requests_total", "path", "/a", "status", "2xx"); m.GetCounter().GetValue() != 3 {
		t.Errorf("counter /a = %v, want 3", m)
	}
	if m := fams.Metric("test_requests_total", "path", `we"ird\path`+"\n", "status", "4xx"); m.GetCounter().GetValue() != 1 {
		t.Errorf("the counter with an escaped label value = %v, want 1\n%s", m, text)
	}
	if m := fams.Metric("test_in_flight"); m.GetGauge().GetValue() != 2 {
		t.Errorf("gauge = %v, want 2", m)
	}
	hm := fams.Metric("test_seconds", "route", "/x").GetHistogram()
	if hm.GetSampleCount() != 5 || math.Abs(hm.GetSampleSum()-55.65) > 1e-9 {
		t.Errorf("histogram count %d sum %v, want 5 and 55.65", hm.GetSampleCount(), hm.GetSampleSum())
	}
	// Buckets are cumulative and "less than or equal": 0.1 falls in le="0.1".
	want := map[float64]uint64{0.1: 2, 1: 3, 10: 4, math.Inf(1): 5}
	for _, b := range hm.GetBucket() {
		if want[b.GetUpperBound()] != b.GetCumulativeCount() {
			t.Errorf("bucket le=%v holds %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want[b.GetUpperBound()])
		}
	}
	for _, line := range []string{`test_seconds_bucket{route="/x",le="+Inf"} 5`, `test_seconds_count{route="/x"} 5`,
		"# TYPE test_seconds histogram", `test_clusters{status="STOPPED"} 0`, "test_cpu_seconds_total 1.5"} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("exposition lacks %q:\n%s", line, text)
		}
	}
}

// Concurrent updates lose nothing (run with -race).
func TestConcurrentUpdates(t *testing.T) {
	t.Parallel()
	r := metrics.NewRegistry()
	c := r.Counter("test_total", "Test.", "worker")
	h := r.Histogram("test_seconds", "Test.", []float64{1})
	g := r.Gauge("test_gauge", "Test.")
	const workers, each = 16, 1000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				c.With([]string{"even", "odd"}[w%2]).Inc()
				h.With().Observe(0.5)
				g.With().Add(1)
			}
		}()
		// Scrapes while the workers count must not race either.
		var b bytes.Buffer
		if err := r.WriteText(&b); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	fams, _ := scrape(t, r)
	for _, l := range []string{"even", "odd"} {
		if v := fams.Metric("test_total", "worker", l).GetCounter().GetValue(); v != workers/2*each {
			t.Errorf("counter %s = %v, want %d", l, v, workers/2*each)
		}
	}
	if n := fams.Metric("test_seconds").GetHistogram().GetSampleCount(); n != workers*each {
		t.Errorf("histogram count = %d, want %d", n, workers*each)
	}
	if v := fams.Metric("test_gauge").GetGauge().GetValue(); v != workers*each {
		t.Errorf("gauge = %v, want %d", v, workers*each)
	}
}

// Programming errors panic when the family is registered or used, not at a scrape.
func TestMisuse(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]func(r *metrics.Registry){
		"bad metric name":  func(r *metrics.Registry) { r.Counter("1bad", "x") },
		"bad label name":   func(r *metrics.Registry) { r.Gauge("ok", "x", "bad-label") },
		"reserved label":   func(r *metrics.Registry) { r.Gauge("ok", "x", "__name") },
		"le on histogram":  func(r *metrics.Registry) { r.Histogram("ok", "x", []float64{1}, "le") },
		"unsorted buckets": func(r *metrics.Registry) { r.Histogram("ok", "x", []float64{2, 1}) },
		"twice":            func(r *metrics.Registry) { r.Gauge("ok", "x"); r.Counter("ok", "x") },
		"label count":      func(r *metrics.Registry) { r.Counter("ok", "x", "a").With("1", "2") },
		"negative counter": func(r *metrics.Registry) { r.Counter("ok", "x").With().Add(-1) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f(metrics.NewRegistry())
		})
	}
}

// The runtime and process families, under the Go client's names, with values that make sense for this process.
func TestRuntime(t *testing.T) {
	t.Parallel()
	r := metrics.NewRegistry()
	r.RegisterRuntime()
	fams, _ := scrape(t, r)
	value := func(name string) float64 {
		f := fams[name]
		if f == nil || len(f.GetMetric()) == 0 {
			t.Errorf("no %s", name)
			return 0
		}
		m := f.GetMetric()[0]
		return m.GetGauge().GetValue() + m.GetCounter().GetValue()
	}
	if v := value("go_goroutines"); v < 1 {
		t.Errorf("go_goroutines = %v", v)
	}
	if v := value("go_memstats_heap_alloc_bytes"); v < 1<<10 {
		t.Errorf("go_memstats_heap_alloc_bytes = %v", v)
	}
	if v := value("process_resident_memory_bytes"); v < 1<<20 {
		t.Errorf("process_resident_memory_bytes = %v", v)
	}
	if v, now := value("process_start_time_seconds"), float64(time.Now().Unix()); v > now+1 || v < now-24*3600 {
		t.Errorf("process_start_time_seconds = %v, now %v", v, now)
	}
	if v := value("process_open_fds"); v < 3 || v > value("process_max_fds") {
		t.Errorf("process_open_fds = %v of %v", v, value("process_max_fds"))
	}
	if v := value("go_threads"); v < 1 {
		t.Errorf("go_threads = %v", v)
	}
	if m := fams.Metric("go_info", "version", runtime.Version()); m.GetGauge().GetValue() != 1 {
		t.Errorf("go_info = %v", m)
	}
}
