package services

import (
	"context"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/serve"
)

// watchNodes follows the node events of a launched replica's cluster (api.Client.WatchCluster): the first
// reaches the loop as a lost event. Infra whose provider cannot watch, or a watch that breaks, leaves the
// replica to the probes, as before. The watch ends with the runner or when the replica is torn down.
func (r *runner) watchNodes(rep *replica) {
	if rep.unwatch != nil {
		return
	}
	ctx, cancel := context.WithCancel(r.ctx)
	rep.unwatch = cancel
	id, cluster := rep.row.ID, rep.row.Cluster
	r.work.Add(1)
	go func() {
		defer r.work.Done()
		evs, err := r.c.opts.Core.WatchCluster(ctx, cluster)
		if err != nil {
			return // unsupported, or the cluster is gone already: the next probe tells
		}
		if ev, ok := <-evs; ok {
			r.send(event{id: id, lost: &ev})
		}
	}()
}

// nodeLost ends a replica whose cluster lost a node, as a failed probe on a cluster no longer UP does: it leaves
// the load balancer's set now (not at the next probe), is PREEMPTED, torn down and replaced at once.
func (r *runner) nodeLost(rep *replica, ev api.ClusterEvent) {
	switch serve.ReplicaStatus(rep.row.Status) {
	case serve.ReplicaStarting, serve.ReplicaReady, serve.ReplicaNotReady:
	default:
		return // being launched (its launch tells) or already going
	}
	r.logf("replica %d: %s: node %d of cluster %s is %s: %s", rep.row.ID, serve.ReplicaPreempted, ev.Rank, ev.Cluster, ev.Status, ev.Reason)
	r.tearDown(rep, serve.ReplicaPreempted)
	r.decide()
}
