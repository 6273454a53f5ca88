package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/agent"
)

// Queue lists a cluster's jobs, newest first, as its head agent reports them.
func (m *Manager) Queue(ctx context.Context, name string, skipFinished bool) ([]api.Job, error) {
	c, done, err := m.headByName(ctx, name)
	if err != nil {
		return nil, err
	}
	defer done()
	jobs, err := c.Jobs(ctx, agent.JobsQuery{SkipFinished: skipFinished})
	if err != nil {
		return nil, fmt.Errorf("list the jobs of %q: %w", name, err)
	}
	out := make([]api.Job, len(jobs))
	for i, j := range jobs {
		out[i] = toAPIJob(j)
	}
	return out, nil
}

// Job returns one job of a cluster; id 0 means the latest. A missing job is a *JobNotFoundError.
func (m *Manager) Job(ctx context.Context, name string, id int) (api.Job, error) {
	c, done, err := m.headByName(ctx, name)
	if err != nil {
		return api.Job{}, err
	}
	defer done()
	j, err := m.job(ctx, c, name, id)
	if err != nil {
		return api.Job{}, err
	}
	return toAPIJob(j), nil
}

func (m *Manager) job(ctx context.Context, c *agent.Client, name string, id int) (agent.Job, error) {
	if id == 0 {
		jobs, err := c.Jobs(ctx, agent.JobsQuery{})
		if err != nil {
			return agent.Job{}, err
		}
		if len(jobs) == 0 {
			return agent.Job{}, &api.JobNotFoundError{Cluster: name}
		}
		latest := jobs[0]
		for _, j := range jobs {
			if j.ID > latest.ID {
				latest = j
			}
		}
		return latest, nil
	}
	j, err := c.Job(ctx, int64(id))
	if errors.Is(err, agent.ErrNotFound) {
		return agent.Job{}, &api.JobNotFoundError{Cluster: name, ID: id}
	}
	return j, err
}

// Logs writes a job's output to w (id 0: the latest job), following it until the job ends when opts.Follow is
// set, and returns the job's status at the end.
func (m *Manager) Logs(ctx context.Context, name string, id int, opts api.LogsOptions, w io.Writer) (api.Job, error) {
	c, done, err := m.headByName(ctx, name)
	if err != nil {
		return api.Job{}, err
	}
	defer done()
	j, err := m.job(ctx, c, name, id)
	if err != nil {
		return api.Job{}, err
	}
	final, err := c.Logs(ctx, j.ID, opts.Follow, opts.Tail, w)
	if err != nil {
		return api.Job{}, fmt.Errorf("logs of job %d on %q: %w", j.ID, name, err)
	}
	if final != "" {
		j.Status = final
		return toAPIJob(j), nil
	}
	if j, err = c.Job(ctx, j.ID); err != nil {
		return api.Job{}, err
	}
	return toAPIJob(j), nil
}

// Cancel cancels jobs of a cluster by id, or all its unfinished jobs.
func (m *Manager) Cancel(ctx context.Context, name string, ids []int, all bool) ([]api.CancelOutcome, error) {
	c, done, err := m.headByName(ctx, name)
	if err != nil {
		return nil, err
	}
	defer done()
	req := agent.CancelRequest{All: all}
	for _, id := range ids {
		req.IDs = append(req.IDs, int64(id))
	}
	res, err := c.Cancel(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("cancel jobs on %q: %w", name, err)
	}
	out := make([]api.CancelOutcome, len(res.Jobs))
	for i, o := range res.Jobs {
		out[i] = api.CancelOutcome{JobID: int(o.ID), Cancelled: o.Cancelled, Status: o.Status, Message: o.Message}
	}
	return out, nil
}

func (m *Manager) headByName(ctx context.Context, name string) (*agent.Client, func(), error) {
	rec, err := m.record(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	return m.head(ctx, rec)
}

func toAPIJob(j agent.Job) api.Job {
	return api.Job{
		ID: int(j.ID), Name: j.Name, User: j.User, Status: j.Status, SubmittedAt: j.SubmittedAt,
		StartedAt: j.StartedAt, EndedAt: j.EndedAt, Resources: j.ResourcesStr, NumNodes: j.NumNodes, ExitCode: j.ExitCode,
	}
}
