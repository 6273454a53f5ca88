package optimizer_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/catalog/catalogtest"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/optimizer"
	"github.com/stix-run/stix/internal/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// snapshotSources returns every cloud of the snapshot as a paid source, in name order.
func snapshotSources(t testing.TB) (*catalog.Catalog, []optimizer.Source) {
	cat := catalogtest.Snapshot(t)
	var srcs []optimizer.Source
	for _, c := range cat.Clouds() {
		srcs = append(srcs, c)
	}
	return cat, srcs
}

// load parses task YAML (one or several documents) the way `stix launch` would.
func load(t testing.TB, name, yaml string) *spec.Pipeline {
	t.Helper()
	p, err := spec.Load(name+".yaml", []byte(yaml), spec.LoadOptions{})
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return p
}

var goldenCases = []struct {
	name      string
	yaml      string
	blocked   []cloud.Scope
	objective optimizer.Objective
}{
	{name: "default", yaml: "run: echo hi\n"},
	{name: "a100_8", yaml: "resources:\n  accelerators: A100:8\n"},
	{name: "h100", yaml: "resources:\n  accelerators: H100\n"},
	{name: "t4_1", yaml: "resources:\n  accelerators: T4:1\n"},
	{name: "cpus_4plus", yaml: "resources:\n  cpus: 4+\n"},
	{name: "cpus_8", yaml: "resources:\n  cpus: 8\n"},
	{name: "memory_32plus", yaml: "resources:\n  memory: 32+\n"},
	{name: "spot_a100_8", yaml: "resources:\n  accelerators: A100:8\n  use_spot: true\n"},
	{name: "spot_cpus_4plus", yaml: "resources:\n  cpus: 4+\n  use_spot: true\n"},
	{name: "aws_us_east_1_t4", yaml: "resources:\n  infra: aws/us-east-1\n  accelerators: T4\n"},
	{name: "gcp_zone_t4", yaml: "resources:\n  infra: gcp/us-central1/us-central1-a\n  accelerators: T4:1\n"},
	{name: "any_of", yaml: "resources:\n  any_of:\n    - accelerators: H100:8\n    - accelerators: A100:8\n    - accelerators: A100-80GB:8\n"},
	{name: "ordered", yaml: "resources:\n  ordered:\n    - infra: gcp\n      accelerators: H100:8\n    - infra: aws\n      accelerators: A100:8\n    - accelerators: H100:8\n"},
	{name: "accelerator_set", yaml: "resources:\n  accelerators: {L4:1, T4:1, A10G:1}\n"},
	{name: "accelerator_list", yaml: "resources:\n  accelerators: [A100:8, H100:8]\n"},
	{name: "multi_node_h100_8", yaml: "num_nodes: 4\nresources:\n  accelerators: H100:8\n"},
	{name: "instance_type", yaml: "resources:\n  instance_type: p3.2xlarge\n"},
	{name: "blocked_region", yaml: "resources:\n  accelerators: T4:1\n  infra: aws\n",
		blocked: []cloud.Scope{{Level: cloud.LevelRegion, Cloud: "aws", Region: "us-east-1"}}},
	{name: "blocked_cloud", yaml: "resources:\n  accelerators: H100:8\n",
		blocked: []cloud.Scope{{Level: cloud.LevelCloud, Cloud: "nebius"}, {Level: cloud.LevelCloud, Cloud: "runpod"}}},
	{name: "memory_80gb_plus", yaml: "resources:\n  accelerators: 80GB+:8\n"},
	{name: "pipeline_egress", yaml: `name: pipe
---
name: prep
resources:
  cpus: 4+
inputs:
  s3://my-bucket/raw: 100
outputs:
  gs://my-bucket/clean: 500
---
name: train
resources:
  accelerators: T4:1
outputs:
  gs://my-bucket/model: 20
---
name: eval
resources:
  infra: gcp
  accelerators: T4:1
`},
	{name: "pipeline_time", objective: optimizer.Time, yaml: `name: pipe
---
name: prep
resources:
  cpus: 4+
outputs:
  s3://b/clean: 500
---
name: train
resources:
  accelerators: T4:1
`},
	{name: "no_resources_unknown_accelerator", yaml: "resources:\n  accelerators: A100G:8\n"},
	{name: "no_resources_exact_cpus", yaml: "resources:\n  cpus: 3\n"},
	{name: "no_resources_pinned_disabled", yaml: "resources:\n  infra: azure\n  cpus: 4\n"},
}

func TestGoldenPlans(t *testing.T) {
	cat, srcs := snapshotSources(t)
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := load(t, tc.name, tc.yaml)
			prob := optimizer.Problem{Tasks: optimizer.FromPipeline(p, cat), Sources: srcs, Blocked: tc.blocked, Objective: tc.objective}
			plan, ex, err := optimizer.Optimize(prob)
			got := render(plan, ex, err)
			checkGolden(t, tc.name, got)
		})
	}
}

func TestGoldenDAG(t *testing.T) {
	cat, srcs := snapshotSources(t)
	// A diamond: prep fans out to two trainers whose outputs meet in eval; outputs move between clouds.
	p := load(t, "dag", `name: dag
---
name: prep
resources:
  cpus: 4+
outputs:
  s3://b/x: 2000
---
name: train-a
resources:
  accelerators: T4:1
outputs:
  s3://b/a: 50
---
name: train-b
resources:
  accelerators: H100:1
outputs:
  s3://b/b: 50
---
name: eval
resources:
  accelerators: L4:1
`)
	prob := optimizer.Problem{Tasks: optimizer.FromPipeline(p, cat), Sources: srcs,
		Edges: [][2]int{{0, 1}, {0, 2}, {1, 3}, {2, 3}}}
	plan, ex, err := optimizer.Optimize(prob)
	checkGolden(t, "dag_diamond", render(plan, ex, err))
}

// render writes a plan and its explanation as stable text.
func render(plan *optimizer.Plan, ex *optimizer.Explanation, err error) string {
	var b strings.Builder
	if err != nil {
		var nr *optimizer.NoResourcesError
		if errors.As(err, &nr) {
			fmt.Fprintf(&b, "NO RESOURCES for task %s\n%s\n", nr.Task, err)
		} else {
			fmt.Fprintf(&b, "ERROR %v\n", err)
		}
	}
	if plan != nil {
		fmt.Fprintf(&b, "objective: %s\n", plan.Objective)
		for _, a := range plan.Tasks {
			o := a.Offer
			fmt.Fprintf(&b, "task %s: %d x %s %s/%s/%s %s spot=%v $%.4f/h (alt %d)\n", a.Task, a.Nodes, o.Cloud,
				o.Region, o.Zone, o.InstanceType, fmtAcc(o), o.Spot, a.Cost, a.Alternative)
		}
		for _, e := range plan.Egress {
			fmt.Fprintf(&b, "egress %d->%d %s->%s %.0f GB $%.2f %.0fs\n", e.From, e.To, e.FromCloud, e.ToCloud, e.GB, e.Cost, e.Seconds)
		}
		fmt.Fprintf(&b, "total: $%.4f, %.2f h\n", plan.Cost, plan.Hours)
	}
	if ex != nil {
		for _, te := range ex.Tasks {
			if te.Task == "" {
				continue
			}
			fmt.Fprintf(&b, "\n== %s (%d node(s)): considered %d, candidates %d, alternative %d\n", te.Task, te.Nodes,
				te.Considered, te.Candidates, te.Alternative)
			for _, r := range te.Rejected {
				fmt.Fprintf(&b, "  rejected %s x%d: %s\n", r.Cloud, r.Count, r.Reason)
			}
			if len(te.Suggestions) > 0 {
				fmt.Fprintf(&b, "  did you mean: %s\n", strings.Join(te.Suggestions, ", "))
			}
			for _, h := range te.Hints {
				fmt.Fprintf(&b, "  hint: %s\n", h)
			}
			if len(te.Rows) > 0 {
				fmt.Fprintf(&b, "  %s\n", strings.Join(optimizer.TableHeader(ex.Objective), " | "))
				for _, r := range te.Rows {
					fmt.Fprintf(&b, "  %s\n", strings.Join(r.Cells(ex.Objective), " | "))
				}
			}
		}
	}
	return b.String()
}

func fmtAcc(o cloud.Offer) string {
	if len(o.Accelerators) == 0 {
		return "-"
	}
	var parts []string
	for n, c := range o.Accelerators {
		parts = append(parts, fmt.Sprintf("%s:%g", n, c))
	}
	return strings.Join(parts, ",")
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}
