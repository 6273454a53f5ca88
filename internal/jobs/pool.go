package jobs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
)

// Pools (`stix jobs pool`): a pool keeps N worker clusters, each launched through the core with the pool's task
// (its setup runs once per worker, it has no run). A managed job submitted with --pool claims an idle READY
// worker (ClaimWorker) and runs on it as a cluster job (Exec: no provisioning, no setup), then frees it. One
// runner per pool, under the lease "pool/"+name, keeps the workers: it launches missing ones, replaces those
// whose cluster was lost (a job that saw the loss marks the worker FAILED) or whose task is an older version,
// removes extras once idle, and tears everything down when the pool is deleted.

// signal wakes everyone waiting for a change in some pool: a worker ready or freed, a pool applied or deleted.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed at the next notify.
func (s *signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

func (s *signal) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// poolRecheck is how often a pool's runner, and a job waiting for a worker, look at the store without being
// woken: what another server changed is seen within it.
const poolRecheck = time.Second

// WorkerCluster is the cluster of worker id of pool.
func WorkerCluster(pool string, id int) string { return fmt.Sprintf("%s-%d", pool, id) }

// PoolControllerLog is the file, in a pool's directory (Dir/pools/NAME), where its runner writes what it does.
const PoolControllerLog = "controller.log"

// poolRunner keeps one pool's workers while this process holds the pool's lease.
type poolRunner struct {
	c    *Controller
	name string
	ctx  context.Context
	// lctx is the context of launches: teardown ends it, so that a pool deleted mid-launch does not wait for it.
	lctx         context.Context
	stopLaunches context.CancelFunc

	mu       sync.Mutex
	busy     map[int]bool // workers with a launch or teardown in flight in this runner
	failures map[int]int  // failed launches in a row, per worker
	nextTry  map[int]time.Time
	wg       sync.WaitGroup
	logMu    sync.Mutex
	log      *os.File
}

func newPoolRunner(ctx context.Context, c *Controller, name string) *poolRunner {
	p := &poolRunner{c: c, name: name, ctx: ctx, busy: map[int]bool{}, failures: map[int]int{}, nextTry: map[int]time.Time{}}
	p.lctx, p.stopLaunches = context.WithCancel(ctx)
	return p
}

func (c *Controller) poolDir(name string) string { return filepath.Join(c.opts.Dir, "pools", name) }

// Run keeps the pool until it is deleted or the runner must stop (leased.Runner).
func (p *poolRunner) Run() {
	if err := os.MkdirAll(p.c.poolDir(p.name), 0o700); err == nil {
		p.log, _ = os.OpenFile(filepath.Join(p.c.poolDir(p.name), PoolControllerLog), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	}
	defer func() {
		p.stopLaunches()
		p.wg.Wait()
		if p.log != nil {
			p.log.Close()
		}
	}()
	p.logf("controller %s runs the pool", p.c.pools.Holder())
	for {
		wake := p.c.poolSig.wait()
		done, err := p.reconcile()
		if err != nil && p.ctx.Err() == nil {
			p.logf("reconcile: %v", err)
		}
		if done {
			return
		}
		t := time.NewTimer(poolRecheck)
		select {
		case <-p.ctx.Done():
			t.Stop()
			return
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

func (p *poolRunner) logf(format string, args ...any) {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	if p.log != nil {
		fmt.Fprintf(p.log, "%s %s\n", p.c.opts.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
	}
}

// callCtx bounds a store or core call; it outlives the runner's stop so that what was started is recorded.
func (p *poolRunner) callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(p.ctx), p.c.opts.CallTimeout)
}

// reconcile compares the pool's workers with what it asks for and starts what is missing; done is true once the
// pool is deleted.
func (p *poolRunner) reconcile() (done bool, err error) {
	ctx, cancel := p.callCtx()
	defer cancel()
	pool, workers, err := p.c.st.Pool(ctx, p.name)
	if errors.Is(err, ErrNoPool) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if pool.Down {
		return p.teardown(pool, workers)
	}
	now := p.c.opts.Now()
	live := 0
	for _, w := range workers {
		if w.Status != api.WorkerShuttingDown {
			live++
		}
		if p.isBusy(w.ID) {
			continue
		}
		switch {
		case w.Status == api.WorkerShuttingDown:
			p.start(w.ID, func() { p.remove(w) })
		case w.Status == api.WorkerProvisioning:
			// Left half-launched by a runner that stopped: launch it again (its cluster is reused or replaced).
			p.start(w.ID, func() { p.launch(pool, w, false) })
		case w.Status == api.WorkerFailed && w.JobID == 0 && !now.Before(p.retryAt(w.ID)):
			p.start(w.ID, func() { p.launch(pool, w, true) })
		case w.Status == api.WorkerReady && w.JobID == 0 && w.Version < pool.Version:
			p.logf("worker %d runs version %d of the pool's task, the pool is at %d: replacing it", w.ID, w.Version, pool.Version)
			p.start(w.ID, func() { p.launch(pool, w, true) })
		}
	}
	// Extra workers go, idle ones first, highest IDs first; a busy one goes once its job frees it.
	for i := len(workers) - 1; i >= 0 && live > pool.Workers; i-- {
		w := workers[i]
		if w.Status == api.WorkerShuttingDown || w.JobID != 0 || p.isBusy(w.ID) {
			continue
		}
		ok, err := p.c.st.RetireWorker(ctx, p.name, w.ID)
		if err != nil {
			return false, err
		}
		if !ok {
			continue // a job took it meanwhile: it goes once freed
		}
		live--
		w.Status = api.WorkerShuttingDown
		p.start(w.ID, func() { p.remove(w) })
	}
	next := 1
	if len(workers) > 0 {
		next = workers[len(workers)-1].ID + 1
	}
	for ; live < pool.Workers; live++ {
		w := WorkerRow{Pool: p.name, ID: next, Version: pool.Version, Status: api.WorkerProvisioning, Cluster: WorkerCluster(p.name, next)}
		next++
		if err := p.c.st.PutWorker(ctx, w); err != nil {
			return false, err
		}
		p.start(w.ID, func() { p.launch(pool, w, false) })
	}
	return false, nil
}

func (p *poolRunner) isBusy(id int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.busy[id]
}

func (p *poolRunner) retryAt(id int) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nextTry[id]
}

// start runs fn for worker id in the background, one thing at a time per worker; the pool's waiters are woken
// when it ends.
func (p *poolRunner) start(id int, fn func()) {
	p.mu.Lock()
	p.busy[id] = true
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer p.c.poolSig.notify()
		defer func() {
			p.mu.Lock()
			delete(p.busy, id)
			p.mu.Unlock()
		}()
		fn()
	}()
}

// asUser makes ctx act as user (a pool's owner): its workers are recorded under the owner's name.
func asUser(ctx context.Context, user string) context.Context {
	if user == "" {
		return ctx
	}
	return auth.With(ctx, auth.Identity{Name: user, Role: auth.RoleUser, Method: "managed-job"})
}

// launch launches worker w's cluster with the pool's task (setup included, nothing to run) and records it READY,
// or FAILED to be tried again after a backoff. replace tears its old cluster down first.
func (p *poolRunner) launch(pool *PoolRow, w WorkerRow, replace bool) {
	w.Status, w.Version, w.Message, w.Infra = api.WorkerProvisioning, pool.Version, "", ""
	if err := p.put(w); err != nil {
		return
	}
	if replace {
		p.down(w.Cluster)
	}
	p.logf("worker %d: launching cluster %s (version %d)", w.ID, w.Cluster, w.Version)
	ctx, cancel := context.WithTimeout(asUser(p.lctx, pool.User), p.c.opts.LaunchTimeout)
	defer cancel()
	op, err := p.c.opts.Core.Launch(ctx, api.LaunchRequest{Task: pool.Spec, Options: api.LaunchOptions{ClusterName: w.Cluster,
		Command: fmt.Sprintf("stix jobs pool apply (pool %s, worker %d)", p.name, w.ID), FailFastOnNodeLoss: true}})
	var res api.LaunchResult
	if err == nil {
		for ev := range op.Events() {
			if ev.Error != "" {
				p.logf("  %s: %s", ev.Msg, ev.Error)
			}
		}
		res, err = op.Wait()
	}
	if err == nil && res.JobID != 0 {
		err = p.waitSetup(ctx, w, res.JobID)
	}
	if p.lctx.Err() != nil {
		return // stopped (the next runner launches it again), or the pool is being deleted
	}
	if err != nil {
		p.mu.Lock()
		p.failures[w.ID]++
		wait := min(time.Duration(1<<min(p.failures[w.ID]-1, 6))*time.Second, time.Minute)
		p.nextTry[w.ID] = p.c.opts.Now().Add(wait)
		p.mu.Unlock()
		p.logf("worker %d: launch failed: %v; trying again in %s", w.ID, err, wait)
		w.Status, w.Message = api.WorkerFailed, firstLine(err)
		_ = p.put(w)
		return
	}
	p.mu.Lock()
	delete(p.failures, w.ID)
	delete(p.nextTry, w.ID)
	p.mu.Unlock()
	sctx, scancel := p.callCtx()
	defer scancel()
	if cs, err := p.c.opts.Core.Status(sctx, []string{w.Cluster}, false); err == nil && len(cs) == 1 {
		w.Infra = cs[0].Infra
	}
	w.Status, w.LaunchedAt = api.WorkerReady, p.c.opts.Now()
	if err := p.put(w); err == nil {
		p.logf("worker %d: READY on %s", w.ID, w.Infra)
	}
}

// WorkerSetupLog is the file, in a pool's directory, holding worker id's setup output.
func WorkerSetupLog(id int) string { return fmt.Sprintf("worker-%d.setup.log", id) }

// waitSetup follows the setup of worker w (queued by its launch as the cluster's job) into the pool's directory
// until it ends: a worker is READY only once its setup succeeded.
func (p *poolRunner) waitSetup(ctx context.Context, w WorkerRow, job int) error {
	out, err := os.Create(filepath.Join(p.c.poolDir(p.name), WorkerSetupLog(w.ID)))
	if err != nil {
		return err
	}
	defer out.Close()
	j, err := p.c.opts.Core.Logs(ctx, w.Cluster, job, api.LogsOptions{Follow: true}, out)
	if err != nil {
		return fmt.Errorf("follow the setup on %s: %w", w.Cluster, err)
	}
	if j.Status != api.JobSucceeded {
		return fmt.Errorf("setup on %s ended %s: see %s", w.Cluster, j.Status, out.Name())
	}
	return nil
}

func (p *poolRunner) put(w WorkerRow) error {
	ctx, cancel := p.callCtx()
	defer cancel()
	err := p.c.st.PutWorker(ctx, w)
	if err != nil {
		p.logf("worker %d: record %s: %v", w.ID, w.Status, err)
	}
	return err
}

// remove tears an extra worker down and deletes its row.
func (p *poolRunner) remove(w WorkerRow) {
	p.down(w.Cluster)
	ctx, cancel := p.callCtx()
	defer cancel()
	if err := p.c.st.DeleteWorker(ctx, p.name, w.ID); err != nil {
		p.logf("worker %d: delete: %v", w.ID, err)
		return
	}
	p.logf("worker %d removed", w.ID)
}

// down tears a worker's cluster down; one already gone is fine.
func (p *poolRunner) down(name string) {
	ctx, cancel := p.callCtx()
	defer cancel()
	_, err := api.Wait(p.c.opts.Core.Down(ctx, name, false))
	var nf *api.ClusterNotFoundError
	if err != nil && !errors.As(err, &nf) {
		p.logf("tear down %s: %v; purging it", name, err)
		_, err = api.Wait(p.c.opts.Core.Down(ctx, name, true))
	}
	if err != nil && !errors.As(err, &nf) {
		p.logf("tear down %s: %v", name, err)
	}
}

// teardown deletes a pool whose down was asked: every worker's cluster (their jobs were cancelled first), then
// its rows.
func (p *poolRunner) teardown(pool *PoolRow, workers []WorkerRow) (bool, error) {
	ctx, cancel := p.callCtx()
	defer cancel()
	p.logf("deleting the pool: tearing down %d workers", len(workers))
	p.stopLaunches()
	p.wg.Wait()
	var wg sync.WaitGroup
	for _, w := range workers {
		w.Status = api.WorkerShuttingDown
		_ = p.c.st.PutWorker(ctx, w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.down(w.Cluster)
		}()
	}
	wg.Wait()
	if err := p.c.st.DeletePool(ctx, pool.Name); err != nil {
		return false, err
	}
	p.logf("pool deleted")
	return true, nil
}
