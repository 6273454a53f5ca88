package metrics_test

import (
	"bytes"
	"math"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/stix-run/stix/internal/metrics"
)

// Parse reads text exposition with Prometheus's own parser (github.com/prometheus/common/expfmt, a test-only
// dependency): what it accepts, Prometheus scrapes.
func Parse(t testing.TB, text []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("Prometheus's parser rejects the exposition: %v\n%s", err, text)
	}
	return fams
}

func scrape(t *testing.T, r *metrics.Registry) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return Parse(t, b.Bytes()), b.String()
}

// find returns the metric of fam whose labels are exactly want, or nil.
func find(fam *dto.MetricFamily, want map[string]string) *dto.Metric {
	for _, m := range fam.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		ok := true
		for _, l := range m.GetLabel() {
			if v, has := want[l.GetName()]; !has || v != l.GetValue() {
				ok = false
			}
		}
		if ok {
			return m
		}
	}
	return nil
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
	if m := find(fams["test_requests_total"], map[string]string{"path": "/a", "status": "2xx"}); m.GetCounter().GetValue() != 3 {
		t.Errorf("counter /a = %v, want 3", m)
	}
	if m := find(fams["test_requests_total"], map[string]string{"path": `we"ird\path` + "\n", "status": "4xx"}); m.GetCounter().GetValue() != 1 {
		t.Errorf("the counter with an escaped label value = %v, want 1\n%s", m, text)
	}
	if m := find(fams["test_in_flight"], nil); m.GetGauge().GetValue() != 2 {
		t.Errorf("gauge = %v, want 2", m)
	}
	hm := find(fams["test_seconds"], map[string]string{"route": "/x"}).GetHistogram()
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
		if v := find(fams["test_total"], map[string]string{"worker": l}).GetCounter().GetValue(); v != workers/2*each {
			t.Errorf("counter %s = %v, want %d", l, v, workers/2*each)
		}
	}
	if n := find(fams["test_seconds"], nil).GetHistogram().GetSampleCount(); n != workers*each {
		t.Errorf("histogram count = %d, want %d", n, workers*each)
	}
	if v := find(fams["test_gauge"], nil).GetGauge().GetValue(); v != workers*each {
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
