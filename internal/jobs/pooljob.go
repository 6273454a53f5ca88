package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stix-run/stix/api"
)

// ReasonWaitingForWorker is recorded when a job submitted to a pool waits PENDING for a free worker.
const ReasonWaitingForWorker = "waiting_for_worker"

// launchOnPool runs task i of a job submitted to a pool on one of the pool's workers: it waits (PENDING, or
// RECOVERING after a loss) until it claims an idle READY worker, then queues the task on the worker's cluster
// (no provisioning, no setup) and records it RUNNING there. final is set when the job ends here (its pool was
// deleted); an error means the runner stopped, or a state could not be recorded.
func (r *runner) launchOnPool(i int, recovering bool) (final api.ManagedJobStatus, err error) {
	t := &r.tasks[i]
	pool := r.job.Pool
	waiting := false
	for {
		if r.ctx.Err() != nil {
			return "", r.stopped()
		}
		wake := r.c.poolSig.wait()
		ctx, cancel := r.callCtx()
		w, err := r.c.st.ClaimWorker(ctx, pool, r.id)
		cancel()
		if errors.Is(err, ErrNoPool) {
			msg := fmt.Sprintf("pool %s no longer exists", pool)
			return api.ManagedFailedPrechecks, r.set(i, api.ManagedFailedPrechecks, ReasonPrechecks, msg)
		}
		if err != nil {
			r.logf("task %d: claim a worker of pool %s: %v", i, pool, err)
		}
		if w == nil {
			if !recovering && !waiting {
				// Recorded once: PENDING (or back to it), and why.
				if err := r.set(i, api.ManagedPending, ReasonWaitingForWorker, "no idle worker in pool "+pool); err != nil {
					return "", err
				}
			}
			waiting = true
			timer := time.NewTimer(poolRecheck)
			select {
			case <-wake:
			case <-timer.C:
			case <-r.ctx.Done():
			}
			timer.Stop()
			continue
		}
		where := fmt.Sprintf("worker %d of pool %s (cluster %s)", w.ID, pool, w.Cluster)
		status := api.ManagedStarting
		if recovering {
			status = api.ManagedRecovering
		}
		if t.Status != status {
			if err := r.set(i, status, ReasonLaunching, "on "+where); err != nil {
				return "", err
			}
		}
		ts := r.taskSpec(i)
		ectx, ecancel := context.WithTimeout(r.asOwner(r.ctx), r.c.opts.LaunchTimeout)
		op, err := r.c.opts.Core.Exec(ectx, api.ExecRequest{Cluster: w.Cluster, Task: ts,
			Options: api.ExecOptions{Command: fmt.Sprintf("stix jobs launch --pool %s (managed job %d)", pool, r.id)}})
		var res api.LaunchResult
		if err == nil {
			res, err = op.Wait()
		}
		ecancel()
		if err != nil {
			if r.ctx.Err() != nil {
				r.release(false, "")
				return "", r.stopped()
			}
			// The worker did not take the job: its cluster is taken for lost, and replaced by the pool.
			r.logf("task %d: queue on %s: %v; the worker is replaced, looking for another", i, where, err)
			r.release(true, firstLine(err))
			continue
		}
		t.Cluster, t.ClusterJobID, t.Infra, t.Place = w.Cluster, res.JobID, w.Infra, Place{}
		now := r.c.opts.Now()
		if t.StartedAt.IsZero() {
			t.StartedAt = now
		}
		t.RunningSince = now
		t.Attempt++
		return "", r.set(i, api.ManagedRunning, ReasonLaunched, fmt.Sprintf("on %s, job %d", where, res.JobID))
	}
}

// release frees the worker the job holds in its pool; lost marks it FAILED, for the pool to replace.
func (r *runner) release(lost bool, msg string) {
	ctx, cancel := r.callCtx()
	defer cancel()
	if err := r.c.st.ReleaseWorker(ctx, r.job.Pool, r.id, lost, msg); err != nil {
		r.logf("release the worker of pool %s: %v", r.job.Pool, err)
	}
	r.c.poolSig.notify()
}

// free lets go of what task i ran on: its job cluster is torn down; a pool's worker is freed (marked for
// replacement when lost), after its cluster job is cancelled when cancelJob is set.
func (r *runner) free(i int, lost, cancelJob bool) {
	t := &r.tasks[i]
	if r.job.Pool == "" {
		r.down(t.Cluster)
		if cancelJob && t.Cluster == "" {
			r.down(r.clusterName(i)) // a launch cut short may have left a cluster
		}
		return
	}
	if cancelJob && t.Cluster != "" && t.ClusterJobID != 0 {
		ctx, cancel := r.callCtx()
		if _, err := api.Wait(r.c.opts.Core.Cancel(ctx, t.Cluster, []int{t.ClusterJobID}, false)); err != nil {
			r.logf("cancel job %d on %s: %v", t.ClusterJobID, t.Cluster, err)
		}
		cancel()
	}
	msg := ""
	if lost {
		msg = fmt.Sprintf("lost while managed job %d ran on it", r.id)
	}
	r.release(lost, msg)
	if lost {
		r.logf("worker cluster %s is lost: the pool replaces it", t.Cluster)
	}
	// The worker may run another job next, under the same cluster job ID: this task no longer points at it.
	t.Cluster, t.ClusterJobID = "", 0
}
