package optimizer_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/catalog/catalogtest"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/optimizer"
)

// fixed serves fixed offers for any request.
func fixed(name string, offers ...cloud.Offer) optimizer.Source {
	return optimizer.SourceFunc{CloudName: name, Func: func(cloud.Requirements) ([]cloud.Offer, error) {
		return append([]cloud.Offer(nil), offers...), nil
	}}
}

func one(alts ...optimizer.Alternative) []optimizer.Task {
	if len(alts) == 0 {
		alts = []optimizer.Alternative{{}}
	}
	return []optimizer.Task{{Name: "t", Nodes: 1, Alternatives: alts}}
}

func TestFreeInfraRule(t *testing.T) {
	t.Parallel()
	paid := fixed("aws", cloud.Offer{Cloud: "aws", Region: "us-east-1", InstanceType: "m6i.2xlarge", HourlyPrice: 0.384})
	local := fixed("local", cloud.Offer{Cloud: "local", HourlyPrice: 0})
	tests := []struct {
		name    string
		useFree bool
		cloud   string
		want    string
	}{
		{"free not considered", false, "", "aws"},
		{"free considered", true, "", "local"},
		{"free named by the task", false, "local", "local"},
		{"paid named by the task", true, "aws", "aws"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plan, _, err := optimizer.Optimize(optimizer.Problem{Tasks: one(optimizer.Alternative{Cloud: tc.cloud}),
				Sources: []optimizer.Source{paid}, Free: []optimizer.Source{local}, UseFree: tc.useFree})
			if err != nil {
				t.Fatal(err)
			}
			if got := plan.Tasks[0].Offer.Cloud; got != tc.want {
				t.Errorf("chose %s, want %s", got, tc.want)
			}
		})
	}
}

// TestTieBreaks: equal costs go to the earlier alternative, then cloud, region, zone and instance type by name.
func TestTieBreaks(t *testing.T) {
	t.Parallel()
	srcs := []optimizer.Source{
		fixed("gcp", cloud.Offer{Cloud: "gcp", Region: "b", HourlyPrice: 1}, cloud.Offer{Cloud: "gcp", Region: "a", HourlyPrice: 1}),
		fixed("aws", cloud.Offer{Cloud: "aws", Region: "z", InstanceType: "y", HourlyPrice: 1}, cloud.Offer{Cloud: "aws", Region: "z", InstanceType: "x", HourlyPrice: 1}),
	}
	for i := 0; i < 5; i++ {
		plan, _, err := optimizer.Optimize(optimizer.Problem{Tasks: one(), Sources: srcs})
		if err != nil {
			t.Fatal(err)
		}
		if o := plan.Tasks[0].Offer; o.Cloud != "aws" || o.InstanceType != "x" {
			t.Fatalf("chose %+v, want aws x", o)
		}
	}
	plan, _, err := optimizer.Optimize(optimizer.Problem{Tasks: one(optimizer.Alternative{Cloud: "gcp"}, optimizer.Alternative{Cloud: "aws"}), Sources: srcs})
	if err != nil {
		t.Fatal(err)
	}
	if o := plan.Tasks[0]; o.Offer.Cloud != "gcp" || o.Offer.Region != "a" || o.Alternative != 0 {
		t.Errorf("chose %+v, want the first alternative's gcp/a", o)
	}
}

// TestEqualPriceRegions: among offers of equal cost the region is SkyPilot's first choice: a US region on AWS
// and Lambda, the first by name on GCP; the table lists equal-cost rows in the same order.
func TestEqualPriceRegions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cloud, want string
		regions     []string
	}{
		{"aws", "us-west-2", []string{"ap-northeast-1", "ca-central-1", "us-west-2"}},
		{"lambda", "us-east-1", []string{"asia-northeast-1", "europe-central-1", "us-south-1", "us-east-1"}},
		{"gcp", "asia-east1", []string{"us-central1", "asia-east1", "europe-west4"}},
	} {
		var offers []cloud.Offer
		for _, r := range tc.regions {
			offers = append(offers, cloud.Offer{Cloud: tc.cloud, Region: r, InstanceType: "x", HourlyPrice: 1})
		}
		plan, ex, err := optimizer.Optimize(optimizer.Problem{Tasks: one(), Sources: []optimizer.Source{fixed(tc.cloud, offers...)}})
		if err != nil {
			t.Fatal(err)
		}
		if got := plan.Tasks[0].Offer.Region; got != tc.want {
			t.Errorf("%s: chose %s, want %s", tc.cloud, got, tc.want)
		}
		if got := ex.Tasks[0].Rows[0].Region; got != tc.want {
			t.Errorf("%s: first table row in %s, want %s", tc.cloud, got, tc.want)
		}
	}

	// The real Lambda catalog prices gpu_1x_a10 the same in every region: a US region is taken.
	cat := catalogtest.Snapshot(t)
	lambda, _ := cat.Cloud("lambda")
	alt := optimizer.Alternative{Cloud: "lambda", Req: cloud.Requirements{Accelerators: map[string]float64{"A10": 1}}}
	plan, _, err := optimizer.Optimize(optimizer.Problem{Tasks: one(alt), Sources: []optimizer.Source{lambda}})
	if err != nil {
		t.Fatal(err)
	}
	if o := plan.Tasks[0].Offer; o.InstanceType != "gpu_1x_a10" || o.Region != "us-east-1" {
		t.Errorf("chose %s in %s, want gpu_1x_a10 in us-east-1", o.InstanceType, o.Region)
	}
}

// TestOrderedSkipsBlocked: an ordered entry whose every offer is blocked is passed over for the next one.
func TestOrderedSkipsBlocked(t *testing.T) {
	t.Parallel()
	srcs := []optimizer.Source{
		fixed("aws", cloud.Offer{Cloud: "aws", Region: "us-east-1", HourlyPrice: 1}),
		fixed("gcp", cloud.Offer{Cloud: "gcp", Region: "us-central1", Zone: "us-central1-a", HourlyPrice: 5}),
	}
	task := optimizer.Task{Name: "t", Nodes: 1, Ordered: true, Alternatives: []optimizer.Alternative{{Cloud: "aws"}, {Cloud: "gcp"}}}
	plan, ex, err := optimizer.Optimize(optimizer.Problem{Tasks: []optimizer.Task{task}, Sources: srcs,
		Blocked: []cloud.Scope{{Level: cloud.LevelRegion, Cloud: "aws", Region: "us-east-1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Tasks[0].Offer.Cloud != "gcp" || ex.Tasks[0].Alternative != 1 {
		t.Errorf("chose %+v (alternative %d), want gcp", plan.Tasks[0].Offer, ex.Tasks[0].Alternative)
	}
	if r := ex.Tasks[0].Rejected; len(r) != 1 || r[0].Reason != "blocked: aws/us-east-1" {
		t.Errorf("rejections = %+v", r)
	}
	// Without the block, the first entry wins although the second is not cheaper... and when it is cheaper.
	task.Alternatives = []optimizer.Alternative{{Cloud: "gcp"}, {Cloud: "aws"}}
	plan, _, err = optimizer.Optimize(optimizer.Problem{Tasks: []optimizer.Task{task}, Sources: srcs})
	if err != nil || plan.Tasks[0].Offer.Cloud != "gcp" {
		t.Errorf("ordered [gcp, aws] chose %+v, %v; want gcp", plan, err)
	}
}

// TestZoneBlockLeavesRegionOffer mirrors SkyPilot: blocking a zone does not block a region-level offer.
func TestZoneBlock(t *testing.T) {
	t.Parallel()
	srcs := []optimizer.Source{fixed("aws",
		cloud.Offer{Cloud: "aws", Region: "r1", Zone: "z1", HourlyPrice: 1},
		cloud.Offer{Cloud: "aws", Region: "r1", Zone: "z2", HourlyPrice: 2})}
	plan, _, err := optimizer.Optimize(optimizer.Problem{Tasks: one(), Sources: srcs,
		Blocked: []cloud.Scope{{Level: cloud.LevelZone, Cloud: "aws", Region: "r1", Zone: "z1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Tasks[0].Offer.Zone != "z2" {
		t.Errorf("chose %+v, want z2", plan.Tasks[0].Offer)
	}
}

func TestProblemErrors(t *testing.T) {
	t.Parallel()
	src := []optimizer.Source{fixed("aws", cloud.Offer{Cloud: "aws", HourlyPrice: 1})}
	tasks := []optimizer.Task{{Name: "a", Nodes: 1, Alternatives: []optimizer.Alternative{{}}}, {Name: "b", Nodes: 1, Alternatives: []optimizer.Alternative{{}}}}
	for name, p := range map[string]optimizer.Problem{
		"no tasks":     {Sources: src},
		"cycle":        {Tasks: tasks, Edges: [][2]int{{0, 1}, {1, 0}}, Sources: src},
		"self":         {Tasks: tasks, Edges: [][2]int{{0, 0}}, Sources: src},
		"out of range": {Tasks: tasks, Edges: [][2]int{{0, 2}}, Sources: src},
		// num_nodes is defaulted by spec, once: a task without nodes is a caller's mistake, not one node
		"no nodes": {Tasks: []optimizer.Task{{Name: "a", Alternatives: []optimizer.Alternative{{}}}}, Sources: src},
	} {
		_, _, err := optimizer.Optimize(p)
		var pe *optimizer.ProblemError
		if !errors.As(err, &pe) {
			t.Errorf("%s: err = %v, want a *ProblemError", name, err)
		}
	}
	// A task with no alternatives has no resources, and says so.
	_, _, err := optimizer.Optimize(optimizer.Problem{Tasks: []optimizer.Task{{Name: "empty", Nodes: 1}}, Sources: src})
	var nr *optimizer.NoResourcesError
	if !errors.As(err, &nr) || !strings.Contains(err.Error(), "lists no resources") {
		t.Errorf("empty task: %v", err)
	}
}

// TestPinnedInvalidRegion: a task naming a cloud and a region that cloud lacks fails with the catalog's
// error (what to fix), not "no resources"; the same region without a cloud only rules out clouds.
func TestPinnedInvalidRegion(t *testing.T) {
	t.Parallel()
	_, srcs := snapshotSources(t)
	_, _, err := optimizer.Optimize(optimizer.Problem{Sources: srcs,
		Tasks: one(optimizer.Alternative{Cloud: "aws", Req: cloud.Requirements{Region: "us-east-9"}})})
	var le *catalog.LocationError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "task t: AWS: invalid region \"us-east-9\"") {
		t.Errorf("err = %v, want the catalog's LocationError", err)
	}
	plan, ex, err := optimizer.Optimize(optimizer.Problem{Sources: srcs,
		Tasks: one(optimizer.Alternative{Req: cloud.Requirements{Region: "us-east-1", Accelerators: map[string]float64{"T4": 1}}})})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Tasks[0].Offer.Cloud != "aws" || len(ex.Tasks[0].Rejected) == 0 {
		t.Errorf("chose %+v with rejections %+v", plan.Tasks[0].Offer, ex.Tasks[0].Rejected)
	}
}

// TestPure: Optimize leaves its input as it found it.
func TestPure(t *testing.T) {
	t.Parallel()
	cat, srcs := snapshotSources(t)
	p := load(t, "pure", "name: p\n---\nname: a\nresources:\n  accelerators: {T4:1, L4:1}\noutputs:\n  s3://b/x: 10\n---\nname: b\nresources:\n  cpus: 4+\n")
	tasks := optimizer.FromPipeline(p, cat)
	prob := optimizer.Problem{Tasks: tasks, Sources: srcs, Blocked: []cloud.Scope{{Level: cloud.LevelCloud, Cloud: "runpod"}}}
	before := deepCopy(prob)
	for i := 0; i < 2; i++ {
		if _, _, err := optimizer.Optimize(prob); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(before.Tasks, prob.Tasks) || !reflect.DeepEqual(before.Blocked, prob.Blocked) {
		t.Error("Optimize changed its input")
	}
}

func deepCopy(p optimizer.Problem) optimizer.Problem {
	c := p
	c.Tasks = make([]optimizer.Task, len(p.Tasks))
	for i, t := range p.Tasks {
		ct := t
		ct.Alternatives = make([]optimizer.Alternative, len(t.Alternatives))
		for j, a := range t.Alternatives {
			ca := a
			ca.Req.Accelerators = map[string]float64{}
			for k, v := range a.Req.Accelerators {
				ca.Req.Accelerators[k] = v
			}
			if a.Req.Accelerators == nil {
				ca.Req.Accelerators = nil
			}
			ct.Alternatives[j] = ca
		}
		c.Tasks[i] = ct
	}
	c.Blocked = append([]cloud.Scope(nil), p.Blocked...)
	return c
}

func TestFromSpec(t *testing.T) {
	t.Parallel()
	cat, _ := snapshotSources(t)
	p := load(t, "fromspec", `num_nodes: 2
resources:
  infra: aws/us-east-1
  accelerators: nvidia:80GB+:8
  cpus: 8+
  memory: 4x
  use_spot: true
  ports: [8080, 9000-9010]
  image_id:
    us-east-1: ami-1
    us-west-2: ami-2
inputs:
  gs://bucket/data: 100
outputs:
  s3://bucket/out: 5
`)
	task := optimizer.FromSpec(p.Tasks[0], cat)
	if task.Nodes != 2 || task.InputsCloud != "gcp" || task.InputsGB != 100 || task.OutputsGB != 5 {
		t.Errorf("task = %+v", task)
	}
	if len(task.Alternatives) < 2 {
		t.Fatalf("80GB+ expanded to %d alternatives, want several", len(task.Alternatives))
	}
	a := task.Alternatives[0]
	want := cloud.Requirements{CPUs: cloud.Amount{Value: 8, OrMore: true}, Memory: cloud.Memory{Value: 4, PerCPU: true},
		UseSpot: true, Region: "us-east-1", Ports: []string{"8080", "9000-9010"}, ImageID: "ami-1", DiskSizeGB: 256, NumNodes: 2}
	a.Req.Accelerators = nil
	if a.Cloud != "aws" || !reflect.DeepEqual(a.Req, want) || !reflect.DeepEqual(a.Regions, []string{"us-east-1", "us-west-2"}) {
		t.Errorf("alternative = %+v\nwant req %+v", a, want)
	}
	// Nothing has 1 TB of memory: the alternative is unmet, and the task has no resources.
	p = load(t, "unmet", "resources:\n  accelerators: 1024GB+\n")
	task = optimizer.FromSpec(p.Tasks[0], cat)
	if len(task.Alternatives) != 1 || !strings.Contains(task.Alternatives[0].Unmet, "at least 1024 GB") {
		t.Errorf("alternatives = %+v", task.Alternatives)
	}
	for path, want := range map[string]string{"s3://b": "aws", "gs://b": "gcp", "https://acct.blob.core.windows.net/c": "azure", "/local": ""} {
		if got := optimizer.StorageCloud(path); got != want {
			t.Errorf("StorageCloud(%s) = %q, want %q", path, got, want)
		}
	}
}

func TestEgress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src, dst string
		gb, want float64
	}{
		{"aws", "gcp", 101, 100 * 0.09},
		{"aws", "aws", 500, 0},
		{"gcp", "aws", 100, 12},
		{"gcp", "aws", 2048, 2048 * 0.11},
		{"gcp", "aws", 20480, 20480 * 0.08},
		{"azure", "aws", 11, 10 * 0.0875},
		{"lambda", "aws", 1000, 0},
		{"aws", "gcp", 20 * 1024, (10*1024-1)*0.09 + 10*1024*0.085},
		{"aws", "gcp", 200 * 1024, 200 * 1024 * 0.05},
		{"", "aws", 100, 0},
	}
	for _, tc := range tests {
		if got := optimizer.EgressCost(tc.src, tc.dst, tc.gb); got < tc.want-1e-6 || got > tc.want+1e-6 {
			t.Errorf("EgressCost(%s, %s, %v) = %v, want %v", tc.src, tc.dst, tc.gb, got, tc.want)
		}
	}
	if got := optimizer.EgressSeconds("aws", "gcp", 10); got != 8 {
		t.Errorf("EgressSeconds = %v, want 8 (10 Gbps)", got)
	}
}

func TestTableCells(t *testing.T) {
	t.Parallel()
	r := optimizer.Row{Cloud: "gcp", Region: "us-central1", Zone: "us-central1-a", InstanceType: "n1-standard-8", Spot: true,
		VCPUs: 8, MemoryGB: 30, Accelerators: "T4:1", Cost: 0.7301, Chosen: true}
	got := r.Cells(optimizer.Cost)
	want := []string{"GCP (us-central1-a)", "n1-standard-8[Spot]", "8", "30", "T4:1", "0.73", "   \u2714"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("cells = %q, want %q", got, want)
	}
	r = optimizer.Row{Cloud: "kubernetes", Region: "my-ctx", VCPUs: 0.5, MemoryGB: 2.25, Accelerators: "-"}
	if got := r.Cells(optimizer.Time); got[0] != "Kubernetes (my-ctx)" || got[1] != "-" || got[2] != "0.5" || got[3] != "2.2" {
		t.Errorf("cells = %q", got)
	}
}

// TestOwnClustersKeptApart: the dry-run table has one row per cloud, accelerators and spot, except that the
// user's own clusters (offers whose region is a cluster, such as SSH node pools) each keep a row.
func TestOwnClustersKeptApart(t *testing.T) {
	t.Parallel()
	rows := func(offers ...cloud.Offer) []string {
		t.Helper()
		_, ex, err := optimizer.Optimize(optimizer.Problem{Tasks: one(), Sources: []optimizer.Source{fixed(offers[0].Cloud, offers...)}})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range ex.Tasks[0].Rows {
			out = append(out, r.Cloud+"/"+r.Region)
		}
		return out
	}
	pools := rows(cloud.Offer{Cloud: "ssh", Region: "a", RegionIsCluster: true}, cloud.Offer{Cloud: "ssh", Region: "b", RegionIsCluster: true, HourlyPrice: 1})
	if !reflect.DeepEqual(pools, []string{"ssh/a", "ssh/b"}) {
		t.Errorf("SSH pools: rows %v, want one per pool", pools)
	}
	regions := rows(cloud.Offer{Cloud: "aws", Region: "us-east-1", HourlyPrice: 1}, cloud.Offer{Cloud: "aws", Region: "us-west-2", HourlyPrice: 2})
	if !reflect.DeepEqual(regions, []string{"aws/us-east-1"}) {
		t.Errorf("cloud regions: rows %v, want the cheapest region's alone", regions)
	}
}
