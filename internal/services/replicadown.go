package services

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/serve"
)

// terminateReq asks a runner to tear one replica down (`serve down NAME --replica-id N`); the runner answers on
// done with what it did, or why it refused.
type terminateReq struct {
	id    int
	purge bool
	done  chan error
}

// terminateReplica tears one replica of a service down, as SkyServe's `serve down NAME --replica-id N`: the
// replica leaves the load balancer, its cluster is torn down and it is forgotten; the autoscaler then launches
// a replacement if the service is below its target. A replica in a failed state is only terminated (and
// forgotten) with purge. The operation ends once the replica is gone.
func (c *Controller) terminateReplica(ctx context.Context, req api.ServeDownRequest) (*api.Operation[[]api.ServeDownOutcome], error) {
	if req.All || len(req.Names) != 1 {
		return nil, badRequest("--replica-id needs exactly one service name (not -a)")
	}
	name, id := req.Names[0], req.ReplicaID
	if id < 0 {
		return nil, badRequest("--replica-id must be a replica ID (1 or more), got %d", id)
	}
	row, err := c.owned(ctx, name)
	if err != nil {
		return nil, err
	}
	if row.Down || row.Status == api.ServiceShuttingDown {
		return nil, badRequest("service %s is shutting down with all its replicas", name)
	}
	reps, err := c.st.Replicas(ctx, name)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(reps, func(r ReplicaRow) bool { return r.ID == id }) {
		return nil, badRequest("service %s has no replica %d: `stix serve status %s` lists its replicas", name, id, name)
	}
	r := c.runnerOf(name)
	if r == nil {
		return nil, badRequest("service %s is not run by this API server's controller (it may be starting, or run by another server): try again", name)
	}
	treq := terminateReq{id: id, purge: req.Purge, done: make(chan error, 1)}
	select {
	case r.terminate <- treq:
	case <-r.ctx.Done():
		return nil, badRequest("service %s is not running here any more: try again", name)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case err := <-treq.done:
		if err != nil {
			return nil, err
		}
	case <-r.ctx.Done():
		return nil, badRequest("service %s stopped running here: see `stix serve status %s`", name, name)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return api.Go(ctx, "", func(ctx context.Context, emit func(api.Event)) ([]api.ServeDownOutcome, error) {
		emit(api.Event{Type: api.EventStep, Msg: fmt.Sprintf("Service %s: replica %d shutting down", name, id)})
		msg, err := c.waitReplicaGone(ctx, name, id)
		if err != nil {
			return nil, err
		}
		return []api.ServeDownOutcome{{Name: name, Message: msg}}, nil
	}), nil
}

// waitReplicaGone waits until a replica being terminated is forgotten, or its teardown failed.
func (c *Controller) waitReplicaGone(ctx context.Context, name string, id int) (string, error) {
	for {
		reps, err := c.st.Replicas(ctx, name)
		if err != nil {
			return "", err
		}
		i := slices.IndexFunc(reps, func(r ReplicaRow) bool { return r.ID == id })
		if i < 0 {
			return fmt.Sprintf("replica %d terminated", id), nil
		}
		if serve.ReplicaStatus(reps[i].Status) == serve.ReplicaFailedCleanup {
			return "", fmt.Errorf("replica %d of service %s: tearing its cluster %s down failed (see `stix serve logs --controller %s`); retry with --purge to forget it",
				id, name, reps[i].Cluster, name)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// terminateReplica, on the runner's loop: tear the replica down (a queued one is only forgotten, a launching
// one torn down once its launch returns), then decide at once, so that a replacement is launched if needed.
func (r *runner) terminateReplica(req terminateReq) {
	rep := r.replicas[req.id]
	if rep == nil {
		req.done <- badRequest("service %s has no replica %d", r.name, req.id)
		return
	}
	status := serve.ReplicaStatus(rep.row.Status)
	switch {
	case status == serve.ReplicaShuttingDown || status == serve.ReplicaPreempted:
		req.done <- nil // already on its way out
		return
	case status.Failed() && !req.purge:
		req.done <- badRequest("replica %d of service %s is %s: pass --purge to terminate it anyway (resources it holds may have leaked)", req.id, r.name, status)
		return
	case status.Failed():
		r.logf("replica %d: purged by the user (was %s)", req.id, status)
		rep.purge = true
		if !rep.busy {
			r.tearDown(rep, serve.ReplicaShuttingDown)
		}
	case status == serve.ReplicaPending && !rep.busy:
		r.logf("replica %d: terminated by the user before its launch", req.id)
		r.queued = slices.DeleteFunc(r.queued, func(id int) bool { return id == req.id })
		delete(r.replicas, req.id)
		ctx, cancel := r.call()
		_ = r.c.st.DeleteReplica(ctx, r.name, req.id)
		cancel()
	case rep.busy && status == serve.ReplicaProvisioning:
		r.logf("replica %d: terminated by the user; torn down once its launch returns", req.id)
		rep.terminate = true
	default:
		r.logf("replica %d: terminated by the user", req.id)
		r.tearDown(rep, serve.ReplicaShuttingDown)
	}
	req.done <- nil
	r.decide()
}
