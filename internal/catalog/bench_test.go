package catalog_test

import (
	"context"
	"testing"

	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/catalog/catalogtest"
	"github.com/stix-run/stix/internal/cloud"
)

// fullSizeDir writes synthetic catalogs of SkyPilot's size (20k AWS, 20k GCP, 40k Azure rows).
func fullSizeDir(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	if err := catalogtest.WriteSynthetic(dir, catalogtest.FullSize); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkLoadFullSize measures reading and indexing the three full-size catalogs.
func BenchmarkLoadFullSize(b *testing.B) {
	dir := fullSizeDir(b)
	b.ResetTimer()
	for b.Loop() {
		if _, err := catalog.Load(context.Background(), catalog.Dir(dir), "aws", "gcp", "azure"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadAWS measures one 20k-row cloud.
func BenchmarkLoadAWS(b *testing.B) {
	dir := fullSizeDir(b)
	b.ResetTimer()
	for b.Loop() {
		if _, err := catalog.Load(context.Background(), catalog.Dir(dir), "aws"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQuery measures queries against a loaded full-size catalog.
func BenchmarkQuery(b *testing.B) {
	cat, err := catalog.Load(context.Background(), catalog.Dir(fullSizeDir(b)), "aws", "gcp", "azure")
	if err != nil {
		b.Fatal(err)
	}
	reqs := map[string]cloud.Requirements{
		"default":  {},
		"cpus4+":   {CPUs: cloud.Amount{Value: 4, OrMore: true}},
		"a100x8":   {Accelerators: map[string]float64{"A100": 8}},
		"t4-spot":  {Accelerators: map[string]float64{"T4": 1}, UseSpot: true},
		"instance": {InstanceType: "m6i.2xlarge"},
	}
	for name, req := range reqs {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				for _, c := range cat.Clouds() {
					_, _ = c.Feasible(req)
				}
			}
		})
	}
}
