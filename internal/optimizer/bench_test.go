package optimizer_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/catalog/catalogtest"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/optimizer"
)

func fullSize(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	if err := catalogtest.WriteSynthetic(dir, catalogtest.FullSize); err != nil {
		b.Fatal(err)
	}
	return dir
}

func sourcesOf(cat *catalog.Catalog) []optimizer.Source {
	var out []optimizer.Source
	for _, c := range cat.Clouds() {
		out = append(out, c)
	}
	return out
}

var benchReqs = []cloud.Requirements{
	{CPUs: cloud.Amount{Value: 4, OrMore: true}},
	{Accelerators: map[string]float64{"A100": 8}},
	{Accelerators: map[string]float64{"T4": 1}, UseSpot: true},
	{Memory: cloud.Memory{Value: 64, OrMore: true}},
	{},
}

func benchTask(i int) optimizer.Task {
	return optimizer.Task{Name: fmt.Sprintf("t%d", i), Nodes: 1, Alternatives: []optimizer.Alternative{{Req: benchReqs[i%len(benchReqs)]}},
		OutputsGB: float64(10 * (i%3 + 1))}
}

// BenchmarkPlanOneTaskWithLoad is the launch path: load and index full-size AWS, GCP and Azure catalogs
// (80k rows), then plan one task. Goal: at most 50 ms.
func BenchmarkPlanOneTaskWithLoad(b *testing.B) {
	dir := fullSize(b)
	b.ResetTimer()
	for b.Loop() {
		cat, err := catalog.Load(context.Background(), catalog.Dir(dir), "aws", "gcp", "azure")
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := optimizer.Optimize(optimizer.Problem{Tasks: []optimizer.Task{benchTask(0)}, Sources: sourcesOf(cat)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlanOneTask plans one task against already loaded full-size catalogs.
func BenchmarkPlanOneTask(b *testing.B) {
	cat, err := catalog.Load(context.Background(), catalog.Dir(fullSize(b)), "aws", "gcp", "azure")
	if err != nil {
		b.Fatal(err)
	}
	for i := range benchReqs {
		b.Run(fmt.Sprint(i), func(b *testing.B) {
			for b.Loop() {
				if _, _, err := optimizer.Optimize(optimizer.Problem{Tasks: []optimizer.Task{benchTask(i)}, Sources: sourcesOf(cat)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPlanChain20 plans a 20-task pipeline (dynamic programming with egress) on full-size catalogs.
func BenchmarkPlanChain20(b *testing.B) {
	cat, err := catalog.Load(context.Background(), catalog.Dir(fullSize(b)), "aws", "gcp", "azure")
	if err != nil {
		b.Fatal(err)
	}
	tasks := make([]optimizer.Task, 20)
	for i := range tasks {
		tasks[i] = benchTask(i)
	}
	for b.Loop() {
		if _, _, err := optimizer.Optimize(optimizer.Problem{Tasks: tasks, Sources: sourcesOf(cat)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlanDAG8 plans an 8-task general DAG (branch and bound) on full-size catalogs.
func BenchmarkPlanDAG8(b *testing.B) {
	cat, err := catalog.Load(context.Background(), catalog.Dir(fullSize(b)), "aws", "gcp", "azure")
	if err != nil {
		b.Fatal(err)
	}
	tasks := make([]optimizer.Task, 8)
	for i := range tasks {
		tasks[i] = benchTask(i)
	}
	edges := [][2]int{{0, 1}, {0, 2}, {1, 3}, {2, 3}, {3, 4}, {3, 5}, {4, 6}, {5, 6}, {2, 7}, {6, 7}}
	for b.Loop() {
		if _, _, err := optimizer.Optimize(optimizer.Problem{Tasks: tasks, Edges: edges, Sources: sourcesOf(cat)}); err != nil {
			b.Fatal(err)
		}
	}
}
