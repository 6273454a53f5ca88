// Package metrics is a small Prometheus instrumentation library: counters, gauges and histograms with labels,
// and families computed when scraped, written in the Prometheus text exposition format (version 0.0.4).
//
// It exists instead of github.com/prometheus/client_golang because the API server is the CLI's binary: that
// library's package initialisation (its default registry with Go and process collectors, procfs, protobuf
// descriptors) runs for every stix command, and measured 228 KB and 1,600 allocations of init and +1.8M
// instructions (+68%) on `stix --help` (docs/metrics.md). Nothing here runs before a Registry is made.
package metrics

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry holds metric families and writes them, sorted by name. Make one with NewRegistry; it is safe for
// concurrent use.
type Registry struct {
	mu       sync.Mutex
	families map[string]family
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{families: map[string]family{}} }

// family is one metric family: its samples, written by collect.
type family interface {
	header() (name, help, kind string)
	collect(emit func(suffix string, labels []labelPair, v float64))
}

type labelPair struct{ name, value string }

// register adds f; a bad or repeated name is a programming error and panics.
func (r *Registry) register(f family, labels []string) {
	name, _, kind := f.header()
	if !validName(name, true) {
		panic(fmt.Sprintf("metrics: invalid metric name %q", name))
	}
	for _, l := range labels {
		if !validName(l, false) || strings.HasPrefix(l, "__") || kind == "histogram" && l == "le" {
			panic(fmt.Sprintf("metrics: invalid label name %q for %s", l, name))
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.families[name]; dup {
		panic(fmt.Sprintf("metrics: %s registered twice", name))
	}
	r.families[name] = f
}

// validName reports whether s is a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or, without colons, a label name.
func validName(s string, colon bool) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' || colon && c == ':'
		if !ok {
			return false
		}
	}
	return true
}

// vec is the children of a family, one per combination of label values, created on first use.
type vec[T any] struct {
	name     string
	help     string
	labels   []string
	mu       sync.RWMutex
	children map[string]*child[T]
	make     func() *T
}

type child[T any] struct {
	values []string
	m      *T
}

func newVec[T any](name, help string, labels []string, mk func() *T) *vec[T] {
	return &vec[T]{name: name, help: help, labels: slices.Clone(labels), children: map[string]*child[T]{}, make: mk}
}

// with returns the child for the label values, creating it; the wrong number of values panics.
func (v *vec[T]) with(values []string) *T {
	if len(values) != len(v.labels) {
		panic(fmt.Sprintf("metrics: %s has labels %v, got values %q", v.name, v.labels, values))
	}
	key := strings.Join(values, "\xff")
	v.mu.RLock()
	c := v.children[key]
	v.mu.RUnlock()
	if c != nil {
		return c.m
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if c = v.children[key]; c == nil {
		c = &child[T]{values: slices.Clone(values), m: v.make()}
		v.children[key] = c
	}
	return c.m
}

// each calls f for every child, in the order of their label values.
func (v *vec[T]) each(f func(labels []labelPair, m *T)) {
	v.mu.RLock()
	cs := make([]*child[T], 0, len(v.children))
	for _, c := range v.children {
		cs = append(cs, c)
	}
	v.mu.RUnlock()
	slices.SortFunc(cs, func(a, b *child[T]) int { return slices.Compare(a.values, b.values) })
	for _, c := range cs {
		f(v.pairs(c.values), c.m)
	}
}

func (v *vec[T]) pairs(values []string) []labelPair {
	p := make([]labelPair, len(values))
	for i, val := range values {
		p[i] = labelPair{v.labels[i], val}
	}
	return p
}

// value is a float64 updated atomically.
type value struct{ bits atomic.Uint64 }

func (x *value) add(d float64) {
	for {
		old := x.bits.Load()
		if x.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

func (x *value) get() float64 { return math.Float64frombits(x.bits.Load()) }

// Counter is a value that only goes up.
type Counter struct{ v value }

// Inc adds 1.
func (c *Counter) Inc() { c.v.add(1) }

// Add adds d, which must not be negative.
func (c *Counter) Add(d float64) {
	if d < 0 {
		panic("metrics: a counter cannot go down")
	}
	c.v.add(d)
}

// CounterVec is a counter family with labels.
type CounterVec struct{ *vec[Counter] }

// Counter registers a counter family; its name should end in _total.
func (r *Registry) Counter(name, help string, labels ...string) *CounterVec {
	c := &CounterVec{newVec(name, help, labels, func() *Counter { return &Counter{} })}
	r.register(c, labels)
	return c
}

// With returns the counter for the label values, in the order of the family's labels.
func (c *CounterVec) With(values ...string) *Counter { return c.with(values) }

func (c *CounterVec) header() (string, string, string) { return c.name, c.help, "counter" }

func (c *CounterVec) collect(emit func(string, []labelPair, float64)) {
	c.each(func(l []labelPair, m *Counter) { emit("", l, m.v.get()) })
}

// Gauge is a value that goes up and down.
type Gauge struct{ v value }

// Set sets the gauge to x.
func (g *Gauge) Set(x float64) { g.v.bits.Store(math.Float64bits(x)) }

// Add adds d (negative to subtract).
func (g *Gauge) Add(d float64) { g.v.add(d) }

// GaugeVec is a gauge family with labels.
type GaugeVec struct{ *vec[Gauge] }

// Gauge registers a gauge family.
func (r *Registry) Gauge(name, help string, labels ...string) *GaugeVec {
	g := &GaugeVec{newVec(name, help, labels, func() *Gauge { return &Gauge{} })}
	r.register(g, labels)
	return g
}

// With returns the gauge for the label values, in the order of the family's labels.
func (g *GaugeVec) With(values ...string) *Gauge { return g.with(values) }

func (g *GaugeVec) header() (string, string, string) { return g.name, g.help, "gauge" }

func (g *GaugeVec) collect(emit func(string, []labelPair, float64)) {
	g.each(func(l []labelPair, m *Gauge) { emit("", l, m.v.get()) })
}

// Histogram counts observations in cumulative buckets, with their sum.
type Histogram struct {
	bounds []float64 // upper bounds, ascending, without +Inf
	mu     sync.Mutex
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
}

// Observe records x.
func (h *Histogram) Observe(x float64) {
	i, _ := slices.BinarySearch(h.bounds, x) // the first bound >= x: buckets are "less than or equal"
	h.mu.Lock()
	h.counts[i]++
	h.sum += x
	h.mu.Unlock()
}

// HistogramVec is a histogram family with labels.
type HistogramVec struct {
	*vec[Histogram]
	bounds []float64
}

// Histogram registers a histogram family with the bucket upper bounds given (ascending; +Inf is implied).
func (r *Registry) Histogram(name, help string, buckets []float64, labels ...string) *HistogramVec {
	if len(buckets) == 0 || !slices.IsSorted(buckets) || slices.Contains(buckets, math.Inf(1)) {
		panic(fmt.Sprintf("metrics: %s: buckets must be ascending, without +Inf: %v", name, buckets))
	}
	b := slices.Clone(buckets)
	h := &HistogramVec{bounds: b}
	h.vec = newVec(name, help, labels, func() *Histogram {
		return &Histogram{bounds: b, counts: make([]uint64, len(b)+1)}
	})
	r.register(h, labels)
	return h
}

// With returns the histogram for the label values, in the order of the family's labels.
func (h *HistogramVec) With(values ...string) *Histogram { return h.with(values) }

func (h *HistogramVec) header() (string, string, string) { return h.name, h.help, "histogram" }

func (h *HistogramVec) collect(emit func(string, []labelPair, float64)) {
	h.each(func(l []labelPair, m *Histogram) {
		m.mu.Lock()
		counts, sum := slices.Clone(m.counts), m.sum
		m.mu.Unlock()
		var cum uint64
		for i, n := range counts {
			cum += n
			le := math.Inf(1)
			if i < len(m.bounds) {
				le = m.bounds[i]
			}
			emit("_bucket", append(slices.Clip(l), labelPair{"le", formatFloat(le)}), float64(cum))
		}
		emit("_sum", l, sum)
		emit("_count", l, float64(cum))
	})
}

// Sample is one value of a family computed when scraped, with its label values.
type Sample struct {
	Labels []string
	Value  float64
}

// funcFamily is a gauge or counter family whose samples a function computes at each scrape.
type funcFamily struct {
	name, help, kind string
	labels           []string
	f                func() []Sample
}

// GaugeFunc registers a gauge family computed at each scrape by f (which must be safe for concurrent use and
// return label values in the order of labels).
func (r *Registry) GaugeFunc(name, help string, labels []string, f func() []Sample) {
	r.register(&funcFamily{name: name, help: help, kind: "gauge", labels: slices.Clone(labels), f: f}, labels)
}

// CounterFunc is GaugeFunc for a value that only goes up (a process's CPU time).
func (r *Registry) CounterFunc(name, help string, labels []string, f func() []Sample) {
	r.register(&funcFamily{name: name, help: help, kind: "counter", labels: slices.Clone(labels), f: f}, labels)
}

func (f *funcFamily) header() (string, string, string) { return f.name, f.help, f.kind }

func (f *funcFamily) collect(emit func(string, []labelPair, float64)) {
	for _, s := range f.f() {
		if len(s.Labels) != len(f.labels) {
			panic(fmt.Sprintf("metrics: %s has labels %v, got values %q", f.name, f.labels, s.Labels))
		}
		p := make([]labelPair, len(s.Labels))
		for i, v := range s.Labels {
			p[i] = labelPair{f.labels[i], v}
		}
		emit("", p, s.Value)
	}
}
