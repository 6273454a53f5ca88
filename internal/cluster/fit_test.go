package cluster

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/optimizer"
	"github.com/stix-run/stix/internal/provision"
	"github.com/stix-run/stix/internal/spec"
	"github.com/stix-run/stix/internal/store"
)

func loadTask(t *testing.T, yaml string) *spec.Task {
	t.Helper()
	p, err := spec.Load("task.yaml", []byte(yaml), spec.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p.Tasks[0]
}

// h100 is a one-node cluster launched with an assignment whose offer is an AWS spot node with one H100.
func h100() *store.Cluster {
	offer := cloud.Offer{Cloud: "aws", Region: "us-east-1", Zone: "us-east-1a", InstanceType: "p5.4xlarge", Spot: true,
		Resources: cloud.Resources{CPUs: 16, MemoryGB: 256, Accelerators: map[string]float64{"H100": 1}}}
	plan, err := json.Marshal(provision.Assignment{Offer: offer})
	if err != nil {
		panic(err)
	}
	return &store.Cluster{
		Name: "c", Status: store.StatusUp, Cloud: "aws", Region: "us-east-1", Zone: "us-east-1a", NumNodes: 1,
		Resources: storeResources(offer, 0), Assignment: plan,
	}
}

// TestPick: every form of several candidates runs as the first one the cluster's nodes serve; a task no
// candidate of which fits is refused, saying what the nodes have and what the task asks for.
func TestPick(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		want       map[string]float64 // the job's accelerators; nil: none
		err        []string           // the refusal says all of these
	}{
		{"no resources", "run: x", nil, nil},
		{"one accelerator", "resources: {accelerators: H100:1}", map[string]float64{"H100": 1}, nil},
		{"case of the name", "resources: {accelerators: h100:1}", map[string]float64{"H100": 1}, nil},
		{"fraction", "resources: {accelerators: H100:0.5}", map[string]float64{"H100": 0.5}, nil},
		{"set", "resources: {accelerators: {A100:1, H100:1}}", map[string]float64{"H100": 1}, nil},
		{"list", "resources: {accelerators: [A100:1, H100:1]}", map[string]float64{"H100": 1}, nil},
		{"any_of", "resources: {any_of: [{accelerators: A100:1}, {accelerators: H100:1}]}", map[string]float64{"H100": 1}, nil},
		{"ordered", "resources: {ordered: [{accelerators: A100:1}, {accelerators: H100:1}]}", map[string]float64{"H100": 1}, nil},
		{"first that fits wins", "resources: {ordered: [{cpus: 8}, {accelerators: H100:1}]}", nil, nil},
		{"by memory", "resources: {accelerators: 80GB+:1}", map[string]float64{"H100": 1}, nil},
		{"place", "resources: {infra: aws/us-east-1/us-east-1a, instance_type: p5.4xlarge, use_spot: true}", nil, nil},
		{"no candidate fits", "resources: {accelerators: {A100:1, V100:1}}", nil,
			[]string{`cluster "c" has 1x(p5.4xlarge, gpus=H100:1, cpus=16, mem=256, spot) on aws/us-east-1/us-east-1a`, "one of: A100:1; V100:1"}},
		{"too many", "resources: {accelerators: H100:2}", nil, []string{`the task asks for H100:2 and the nodes of cluster "c" have H100:1`}},
		{"other cloud", "resources: {infra: gcp, accelerators: H100:1}", nil, []string{`infra gcp and the nodes of cluster "c" run on aws/us-east-1/us-east-1a`}},
		{"other region", "resources: {infra: aws/us-west-2}", nil, []string{"infra aws/us-west-2"}},
		{"other instance type", "resources: {instance_type: p4d.24xlarge}", nil, []string{"instance type p4d.24xlarge and the nodes of cluster \"c\" are p5.4xlarge"}},
		{"more CPUs", "resources: {cpus: 32+}", nil, []string{"32+ CPUs", "have 16"}},
		{"more memory", "resources: {memory: 512}", nil, []string{"512 GB of memory", "have 256"}},
		{"more nodes", "num_nodes: 2", nil, []string{`the task needs 2 nodes and cluster "c" has 1`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := pick(loadTask(t, tt.yaml), h100())
			if tt.err != nil {
				if err == nil {
					t.Fatalf("picked %+v, want a refusal", d)
				}
				for _, s := range tt.err {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q lacks %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.CPUs != jobCPUDemand || !reflect.DeepEqual(d.Accelerators, tt.want) {
				t.Errorf("demand %+v, want %v CPUs and %v", d, jobCPUDemand, tt.want)
			}
		})
	}
}

// TestPickReadsTheAssignment: the nodes are what the assignment's offer says; a cluster recorded before stix
// kept assignments (or with one it cannot read) is described by its record's columns.
func TestPickReadsTheAssignment(t *testing.T) {
	t.Parallel()
	task := loadTask(t, "resources: {accelerators: {A100:1, H100:1}}")
	rec := h100()
	rec.Resources.Accelerators = map[string]float64{"A100": 1} // the columns disagree: the assignment wins
	if d, err := pick(task, rec); err != nil || d.Accelerators["H100"] != 1 {
		t.Errorf("with an assignment: %+v, %v; want H100:1", d, err)
	}
	for _, old := range []string{"", "{not json"} {
		rec.Assignment = []byte(old)
		if d, err := pick(task, rec); err != nil || d.Accelerators["A100"] != 1 {
			t.Errorf("assignment %q: %+v, %v; want A100:1 from the record's columns", old, d, err)
		}
	}
}

// TestAssign: the assignment names the task's candidate the offer answers (an accelerator by memory expands to
// several alternatives of one candidate), asks each node for that candidate's requirements on the task's nodes,
// and its job demand names the accelerators as the offer does.
func TestAssign(t *testing.T) {
	t.Parallel()
	task := loadTask(t, "num_nodes: 2\nresources: {ordered: [{cpus: 64}, {accelerators: 40GB+:1}]}")
	ot := optimizer.FromSpec(task, byMemory{"A100", "H100"})
	if len(ot.Alternatives) != 3 {
		t.Fatalf("alternatives %+v, want 3", ot.Alternatives)
	}
	offer := cloud.Offer{Cloud: "aws", InstanceType: "p5", Resources: cloud.Resources{Accelerators: map[string]float64{"H100": 8}}}
	a := assign(ot, optimizer.Assignment{Nodes: 2, Offer: offer, Alternative: 2})
	want := provision.Assignment{
		Offer: offer, Candidate: 1,
		Requirements: cloud.Requirements{Accelerators: map[string]float64{"H100": 1}, DiskSizeGB: 256, NumNodes: 2},
		Demand:       provision.Demand{CPUs: jobCPUDemand, Accelerators: map[string]float64{"H100": 1}},
	}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("assign = %+v\nwant %+v", a, want)
	}
}

type byMemory []string

func (b byMemory) AcceleratorsWithMemory(float64, bool, string) []string { return b }

// BenchmarkPick is what exec adds to choose the candidate: decode the record's assignment and compare. No catalog
// is loaded and nothing is planned.
func BenchmarkPick(b *testing.B) {
	p, err := spec.Load("task.yaml", []byte("resources: {accelerators: {A100:1, H100:1}}"), spec.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	task, rec := p.Tasks[0], h100()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pick(task, rec); err != nil {
			b.Fatal(err)
		}
	}
}
