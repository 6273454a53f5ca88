package cluster

import (
	"encoding/json"
	"testing"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/store"
)

// TestReconcileSummarisesNodes: the note of an abnormal cluster counts its nodes per state, with their ranks
// (ranges collapsed), instead of one clause per node: a 64-node cluster must not print 63 clauses.
func TestReconcileSummarisesNodes(t *testing.T) {
	t.Parallel()
	states := func(ss ...cloud.NodeStatus) []cloud.NodeState {
		out := make([]cloud.NodeState, len(ss))
		for i, s := range ss {
			out[i].Status = s
		}
		return out
	}
	recorded := json.RawMessage(`{}`) // the nodes were recorded: an interrupted launch has its own note
	R, S, M, P := cloud.NodeRunning, cloud.NodeStopped, cloud.NodeMissing, cloud.NodePending
	tests := []struct {
		name  string
		nodes []cloud.NodeState
		want  string
	}{
		{"one stopped", states(R, S), "1 of 2 nodes stopped: node 1"},
		{"a range and a gap", states(R, S, S, S, R, S, M), "4 of 7 nodes stopped: nodes 1-3, 5; 1 of 7 nodes missing: node 6"},
		{"pending", states(P, R, R), "1 of 3 nodes pending: node 0"},
		{"a one-node cluster", states(P), "1 of 1 node pending: node 0"},
	}
	for _, tt := range tests {
		rec := &store.Cluster{NumNodes: len(tt.nodes), Handle: recorded}
		status, note := reconcile(rec, tt.nodes)
		if status != store.StatusInit || note != tt.want {
			t.Errorf("%s: got %s %q, want INIT %q", tt.name, status, note, tt.want)
		}
	}
	many := make([]cloud.NodeStatus, 64)
	for i := range many {
		many[i] = S
	}
	many[0] = R
	if _, note := reconcile(&store.Cluster{NumNodes: 64, Handle: recorded}, states(many...)); note != "63 of 64 nodes stopped: nodes 1-63" {
		t.Errorf("64 nodes: note %q", note)
	}
}
