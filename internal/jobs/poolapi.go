package jobs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/stix-run/stix/internal/lazyregexp"
	"io"
	"path/filepath"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/agent/tail"
	"github.com/stix-run/stix/internal/spec"
)

// PoolApply creates, updates or resizes a pool.
func (c *Client) PoolApply(ctx context.Context, req api.PoolApplyRequest) (*api.Operation[api.PoolApplyResult], error) {
	return c.ctl.PoolApply(ctx, req)
}

// PoolStatus lists pools.
func (c *Client) PoolStatus(ctx context.Context, names []string) ([]api.Pool, error) {
	return c.ctl.PoolStatus(ctx, names)
}

// PoolLogs writes a pool's logs.
func (c *Client) PoolLogs(ctx context.Context, name string, opts api.PoolLogsOptions, w io.Writer) error {
	return c.ctl.PoolLogs(ctx, name, opts, w)
}

// PoolDown deletes pools.
func (c *Client) PoolDown(ctx context.Context, req api.PoolDownRequest) (*api.Operation[[]string], error) {
	return c.ctl.PoolDown(ctx, req)
}

// validPoolName is what a pool may be called: its workers' clusters are named after it.
var validPoolName = lazyregexp.New(`^[a-z]([-a-z0-9]{0,28}[a-z0-9])?$`)

// PoolApply reads the workers' task (which needs a `pool:` section and no run), or only --workers to resize an
// existing pool, records the pool and wakes its runner, which launches the workers in the background.
func (c *Controller) PoolApply(ctx context.Context, req api.PoolApplyRequest) (*api.Operation[api.PoolApplyResult], error) {
	if req.Task == nil && req.Workers == nil {
		return nil, badRequest("give the pool's YAML, or --workers N to resize an existing pool")
	}
	if req.Workers != nil && *req.Workers < 1 {
		return nil, badRequest("--workers must be at least 1, got %d: delete a pool with `stix jobs pool down NAME`", *req.Workers)
	}
	name := req.Name
	if name == "" {
		if req.Task == nil {
			return nil, badRequest("--workers resizes an existing pool: name it with -p NAME")
		}
		b := make([]byte, 2)
		_, _ = rand.Read(b)
		name = "pool-" + hex.EncodeToString(b)
	}
	if !validPoolName.MatchString(name) {
		return nil, badRequest("invalid pool name %q: use 1 to 30 lowercase letters, digits and -, starting with a letter and not ending with -", name)
	}
	user, _ := caller(ctx)
	row := PoolRow{Name: name, User: user, CreatedAt: c.opts.Now()}
	var ts *api.TaskSpec
	if req.Task != nil {
		t, err := c.readPoolTask(ctx, *req.Task)
		if err != nil {
			return nil, err
		}
		one := *req.Task
		one.Pipeline = false
		ts, row.Workers, row.Resources = &one, t.Pool.Workers, requested(t)
	}
	if req.Workers != nil {
		row.Workers = *req.Workers
	}
	if ts == nil {
		p, _, err := c.st.Pool(ctx, name)
		if errors.Is(err, ErrNoPool) {
			return nil, &api.PoolNotFoundError{Name: name}
		}
		if err != nil {
			return nil, err
		}
		row.Resources = p.Resources
	}
	return api.Go(ctx, "", func(ctx context.Context, emit func(api.Event)) (api.PoolApplyResult, error) {
		p, created, err := c.st.ApplyPool(context.WithoutCancel(ctx), row, ts)
		if errors.Is(err, ErrNoPool) {
			return api.PoolApplyResult{}, &api.PoolNotFoundError{Name: name}
		}
		if err != nil {
			return api.PoolApplyResult{}, err
		}
		verb := "updated"
		if created {
			verb = "created"
		}
		emit(api.Event{Type: api.EventStep, Msg: fmt.Sprintf("Pool %s %s: %d workers, version %d", name, verb, p.Workers, p.Version)})
		c.pools.Take(name)
		c.poolSig.notify()
		return api.PoolApplyResult{Name: name, Version: p.Version, Created: created}, nil
	}), nil
}

// readPoolTask checks a pool's task through the core and reads its pool: section.
func (c *Controller) readPoolTask(ctx context.Context, ts api.TaskSpec) (*spec.Task, error) {
	ts.Pipeline = false
	chk, err := c.opts.Core.Validate(ctx, ts)
	if err != nil {
		return nil, err
	}
	if err := chk.Err(); err != nil {
		return nil, err
	}
	if err := chk.ConfigErr(); err != nil {
		return nil, err
	}
	if ts.YAML == "" {
		return nil, badRequest("a pool is made from a task YAML with a pool: section, not a command")
	}
	p, err := spec.Load(ts.FileName, []byte(ts.YAML), spec.LoadOptions{Env: ts.Env, Secrets: ts.Secrets})
	if err != nil {
		return nil, err
	}
	if len(p.Tasks) != 1 {
		return nil, badRequest("%s: a pool is made from one task, found %d", ts.FileName, len(p.Tasks))
	}
	t := p.Tasks[0]
	if err := t.ApplyOverrides(ts.Overrides); err != nil {
		return nil, err
	}
	if t.Pool == nil {
		return nil, badRequest("%s has no pool: section: add one, e.g. `pool: {workers: 2}`, or submit it as a job with `stix jobs launch`", ts.FileName)
	}
	return t, nil
}

// PoolStatus lists the pools named (all when none), with their workers; an unknown name is a PoolNotFoundError.
func (c *Controller) PoolStatus(ctx context.Context, names []string) ([]api.Pool, error) {
	if len(names) == 0 {
		var err error
		if names, err = c.st.PoolNames(ctx); err != nil {
			return nil, err
		}
	}
	out := []api.Pool{}
	for _, n := range names {
		p, ws, err := c.st.Pool(ctx, n)
		if errors.Is(err, ErrNoPool) {
			return nil, &api.PoolNotFoundError{Name: n}
		}
		if err != nil {
			return nil, err
		}
		out = append(out, poolView(p, ws))
	}
	return out, nil
}

// poolView is a pool as `jobs pool status` shows it, its state worked out from its workers'.
func poolView(p *PoolRow, ws []WorkerRow) api.Pool {
	v := api.Pool{Name: p.Name, User: p.User, Version: p.Version, CreatedAt: p.CreatedAt, Workers: p.Workers,
		Resources: p.Resources, WorkerList: []api.Worker{}}
	provisioning := 0
	for _, w := range ws {
		aw := api.Worker{ID: w.ID, Version: w.Version, Cluster: w.Cluster, Status: w.Status, Infra: w.Infra, JobID: w.JobID, Message: w.Message}
		if !w.LaunchedAt.IsZero() {
			t := w.LaunchedAt
			aw.LaunchedAt = &t
		}
		switch w.Status {
		case api.WorkerReady:
			v.ReadyWorkers++
		case api.WorkerProvisioning, api.WorkerFailed:
			provisioning++
		}
		v.WorkerList = append(v.WorkerList, aw)
	}
	switch {
	case p.Down:
		v.Status = api.PoolShuttingDown
	case v.ReadyWorkers > 0:
		v.Status = api.PoolReady
	case provisioning > 0:
		v.Status = api.PoolReplicaInit
	default:
		v.Status = api.PoolNoReplica
	}
	return v
}

// PoolDown deletes pools: each one's unfinished jobs are cancelled, then its runner tears its workers down and
// deletes it. An unknown name is a PoolNotFoundError, and nothing is deleted.
func (c *Controller) PoolDown(ctx context.Context, req api.PoolDownRequest) (*api.Operation[[]string], error) {
	names := req.Names
	switch {
	case req.All && len(names) > 0:
		return nil, badRequest("give pool names or -a/--all, not both")
	case req.All:
		var err error
		if names, err = c.st.PoolNames(ctx); err != nil {
			return nil, err
		}
	case len(names) == 0:
		return nil, badRequest("name the pools to delete, or -a/--all")
	default:
		for _, n := range names {
			if _, _, err := c.st.Pool(ctx, n); errors.Is(err, ErrNoPool) {
				return nil, &api.PoolNotFoundError{Name: n}
			} else if err != nil {
				return nil, err
			}
		}
	}
	return api.Go(ctx, "", func(ctx context.Context, emit func(api.Event)) ([]string, error) {
		ctx = context.WithoutCancel(ctx)
		var out []string
		for _, n := range names {
			jobs, err := c.st.Jobs(ctx, Filter{Pool: n, SkipFinished: true})
			if err != nil {
				return out, err
			}
			if _, err := c.cancelJobs(ctx, jobs); err != nil {
				return out, err
			}
			ok, err := c.st.RequestPoolDown(ctx, n)
			if err != nil {
				return out, err
			}
			if !ok {
				continue
			}
			emit(api.Event{Type: api.EventStep, Msg: fmt.Sprintf("Pool %s is scheduled to be terminated (%d jobs cancelled)", n, len(jobs))})
			c.pools.Take(n)
			out = append(out, n)
		}
		c.poolSig.notify()
		return out, nil
	}), nil
}

// PoolLogs writes pool name's controller log (opts.Controller) or worker opts.WorkerID's setup output as this
// server kept them; with Follow it goes on until the pool is deleted (the controller's log) or the worker's
// setup ended (it is no longer PROVISIONING).
func (c *Controller) PoolLogs(ctx context.Context, name string, opts api.PoolLogsOptions, w io.Writer) error {
	if opts.Controller == (opts.WorkerID > 0) {
		return badRequest("give --controller or a WORKER_ID")
	}
	_, ws, err := c.st.Pool(ctx, name)
	if errors.Is(err, ErrNoPool) {
		return &api.PoolNotFoundError{Name: name}
	}
	if err != nil {
		return err
	}
	path := filepath.Join(c.poolDir(name), PoolControllerLog)
	if !opts.Controller {
		found := false
		for _, wr := range ws {
			found = found || wr.ID == opts.WorkerID
		}
		if !found {
			return badRequest("pool %s has no worker %d: see `stix jobs pool status %s`", name, opts.WorkerID, name)
		}
		path = filepath.Join(c.poolDir(name), WorkerSetupLog(opts.WorkerID))
	}
	cur := &cursor{}
	var first bytes.Buffer
	if err := cur.copyFile(path, &first); err != nil {
		return err
	}
	out := first.Bytes()
	if opts.Tail > 0 {
		out = tail.LastLines(out, opts.Tail)
	}
	if _, err := w.Write(out); err != nil {
		return err
	}
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for opts.Follow {
		_, ws, err := c.st.Pool(ctx, name)
		done := errors.Is(err, ErrNoPool)
		if err != nil && !done {
			return err
		}
		if !opts.Controller {
			done = true
			for _, wr := range ws {
				if wr.ID == opts.WorkerID && wr.Status == api.WorkerProvisioning {
					done = false
				}
			}
		}
		if err := cur.copyFile(path, w); err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
