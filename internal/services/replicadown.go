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
	i := slices.IndexFunc(reps, func(r ReplicaRow) bool { return r.ID == id })
	if i < 0 {
		return nil, badRequest("service %s has no replica %d: `stix serve status %s` lists its replicas", name, id, name)
	}
	if err := refuseTerminate(name, id, serve.ReplicaStatus(reps[i].Status), req.Purge); err != nil {
		return nil, err
	}
	r := c.runnerOf(name)
	if r == nil {
		// Another server runs it (or none does yet): the request waits in the replica's row for the controller
		// that runs the service, which looks at each renewal of its lease.
		ok, err := c.st.RequestTerminate(ctx, name, id, req.Purge)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, badRequest("service %s has no replica %d: `stix serve status %s` lists its replicas", name, id, name)
		}
		return c.replicaGoing(ctx, name, id), nil
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
	return c.replicaGoing(ctx, name, id), nil
}

// replicaGoing is the operation of a replica being terminated: it ends once the replica is forgotten.
func (c *Controller) replicaGoing(ctx context.Context, name string, id int) *api.Operation[[]api.ServeDownOutcome] {
	return api.Go(ctx, "", func(ctx context.Context, emit func(api.Event)) ([]api.ServeDownOutcome, error) {
		emit(api.Event{Type: api.EventStep, Msg: fmt.Sprintf("Service %s: replica %d shutting down", name, id)})
		msg, err := c.waitReplicaGone(ctx, name, id)
		if err != nil {
			return nil, err
		}
		return []api.ServeDownOutcome{{Name: name, Message: msg}}, nil
	})
}

// refuseTerminate says why a replica in status is not terminated: one in a failed state only with purge.
func refuseTerminate(name string, id int, status serve.ReplicaStatus, purge bool) error {
	if status.Failed() && !purge {
		return badRequest("replica %d of service %s is %s: pass --purge to terminate it anyway (resources it holds may have leaked)", id, name, status)
	}
	return nil
}

// forwardTerminates hands the runner of a service the `--replica-id` requests recorded through other servers,
// one at a time, and clears each once the runner acted on it.
func (c *Controller) forwardTerminates(ctx context.Context, r *runner, name string) error {
	reps, err := c.st.Replicas(ctx, name)
	if err != nil {
		return err
	}
	for _, rep := range reps {
		if rep.Terminate == "" {
			continue
		}
		req := terminateReq{id: rep.ID, purge: rep.Terminate == "purge", done: make(chan error, 1)}
		select {
		case r.terminate <- req:
		case <-r.ctx.Done():
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case err := <-req.done:
			if err != nil {
				r.logf("replica %d: terminate asked through another server: %v", rep.ID, err)
			}
		case <-r.ctx.Done():
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := c.st.ClearTerminate(ctx, name, rep.ID); err != nil {
			return err
		}
	}
	return nil
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
	if status == serve.ReplicaShuttingDown || status == serve.ReplicaPreempted {
		req.done <- nil // already on its way out
		return
	}
	if err := refuseTerminate(r.name, req.id, status, req.purge); err != nil {
		req.done <- err
		return
	}
	switch {
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
