// Package metricstest reads Prometheus text exposition in tests with Prometheus's own parser
// (github.com/prometheus/common/expfmt): what it accepts, Prometheus scrapes. Only tests import it, so the
// parser and its protobuf types never reach the stix binary (cmd/stix/startup_test.go checks).
package metricstest

import (
	"bytes"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are the parsed metric families, by name.
type Families map[string]*dto.MetricFamily

// Parse parses text, failing the test when Prometheus's parser rejects it.
func Parse(t testing.TB, text []byte) Families {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("Prometheus's parser rejects the exposition: %v\n%s", err, text)
	}
	return fams
}

// Metric returns the sample of family name whose labels are exactly labels (name, value pairs), or nil.
func (f Families) Metric(name string, labels ...string) *dto.Metric {
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, m := range f[name].GetMetric() {
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

// Value is the value of a counter or gauge sample (see Metric); ok is false when there is none.
func (f Families) Value(name string, labels ...string) (v float64, ok bool) {
	m := f.Metric(name, labels...)
	if m == nil {
		return 0, false
	}
	switch f[name].GetType() {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue(), true
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue(), true
	case dto.MetricType_UNTYPED:
		return m.GetUntyped().GetValue(), true
	}
	return 0, false
}
