package cluster

import (
	"context"
	"errors"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/testutil/fakecloud"
)

// TestNodesListsTheRecordedNodes: a two-node cluster's nodes come back in rank order with their addresses, the
// place and what the agents measured, in the cluster's recorded state; an unknown cluster is not found.
func TestNodesListsTheRecordedNodes(t *testing.T) {
	t.Parallel()
	w := newWorld(t, fakecloud.Options{Name: "fake", CPUs: 2, MemoryGB: 2})
	ctx := context.Background()
	if _, err := w.m.Launch(ctx, task(t, "num_nodes: 2\nrun: echo hi\n"), api.LaunchOptions{ClusterName: "two"}); err != nil {
		t.Fatal(err)
	}
	c := w.cluster(t, "two")
	nodes, err := w.m.Nodes(ctx, "two")
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 {
		t.Fatalf("%d nodes, want 2: %+v", len(nodes), nodes)
	}
	for i, n := range nodes {
		role := map[int]string{0: "head", 1: "worker"}[i]
		if n.Rank != i || n.Role != role || n.InternalIP == "" || n.Status != api.ClusterUp || n.Cloud != "fake" ||
			n.Region != c.Region || n.CPUs <= 0 {
			t.Errorf("node %d = %+v; want rank %d, %s, an internal IP, UP on fake in %q, its CPUs", i, n, i, role, c.Region)
		}
	}
	if nodes[0].InternalIP != c.HeadIP && nodes[0].ExternalIP != c.HeadIP {
		t.Errorf("the head's IPs %s/%s are not the cluster's head IP %s", nodes[0].InternalIP, nodes[0].ExternalIP, c.HeadIP)
	}
	if err := w.m.Stop(ctx, "two"); err != nil {
		t.Fatal(err)
	}
	nodes, err = w.m.Nodes(ctx, "two")
	if err != nil || len(nodes) != 2 || nodes[1].Status != api.ClusterStopped {
		t.Errorf("after stop: %+v, %v; want two STOPPED nodes", nodes, err)
	}
	var nf *api.ClusterNotFoundError
	if _, err := w.m.Nodes(ctx, "nope"); !errors.As(err, &nf) {
		t.Errorf("nodes of an unknown cluster: %v, want ClusterNotFoundError", err)
	}
}
