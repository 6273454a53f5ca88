package cluster

import (
	"testing"

	"github.com/stix-run/stix/internal/store"
)

// TestToAPIClusterWithoutNodes: `stix status` converts every cluster on each run, and one whose launch recorded no
// nodes has no head to look up; the conversion must not build (and drop) an error message for it. Counted in
// allocations, not time: the listing's own strings take 11, the dropped error took 5 more.
func TestToAPIClusterWithoutNodes(t *testing.T) {
	r := &store.Cluster{
		Name: "c1", Status: store.StatusStopped, Cloud: "aws", Region: "us-east-1", NumNodes: 2,
		Resources: store.Resources{InstanceType: "m6i.2xlarge", CPUs: 8, MemoryGB: 32},
	}
	if c := toAPICluster(r); c.HeadIP != "" || c.Resources != "2x(m6i.2xlarge, cpus=8, mem=32)" {
		t.Fatalf("toAPICluster = head %q, resources %q", c.HeadIP, c.Resources)
	}
	allocs := testing.AllocsPerRun(100, func() { toAPICluster(r) })
	if allocs > 12 {
		t.Errorf("toAPICluster of a cluster without nodes allocates %.0f times, want at most 12", allocs)
	}
}
