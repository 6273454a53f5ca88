package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/spec"
)

// Client is an api.Client whose managed-jobs calls the controller answers; every other call goes to the core.
type Client struct {
	api.Client
	ctl *Controller
}

// Client returns the core given in Options with managed jobs answered by c: what the API server serves.
func (c *Controller) Client() *Client { return &Client{Client: c.opts.Core, ctl: c} }

// JobsLaunch submits a managed job.
func (c *Client) JobsLaunch(ctx context.Context, req api.JobsLaunchRequest) (*api.Operation[api.JobsLaunchResult], error) {
	return c.ctl.JobsLaunch(ctx, req)
}

// JobsQueue lists managed jobs.
func (c *Client) JobsQueue(ctx context.Context, opts api.JobsQueueOptions) ([]api.ManagedJob, error) {
	return c.ctl.JobsQueue(ctx, opts)
}

// JobsCount counts managed jobs (api.JobsCounter).
func (c *Client) JobsCount(ctx context.Context, opts api.JobsQueueOptions) (int, error) {
	return c.ctl.JobsCount(ctx, opts)
}

// JobsCancel cancels managed jobs.
func (c *Client) JobsCancel(ctx context.Context, req api.JobsCancelRequest) (*api.Operation[[]api.JobsCancelOutcome], error) {
	return c.ctl.JobsCancel(ctx, req)
}

// JobsLogs writes a managed job's output.
func (c *Client) JobsLogs(ctx context.Context, id int64, opts api.JobsLogsOptions, w io.Writer) ([]api.ManagedJob, error) {
	return c.ctl.JobsLogs(ctx, id, opts, w)
}

// caller is the user a call acts as ("" when the caller is not known: the core's own user), and whether it
// sees every user's jobs (an admin whose ctx carries api.WithAllUsers, or an unidentified caller in process).
func caller(ctx context.Context) (user string, all bool) {
	id, ok := auth.From(ctx)
	if !ok {
		return "", true
	}
	return id.Name, id.IsAdmin() && api.AllUsers(ctx)
}

// JobsLaunch reads the job (every task of a pipeline, nothing launched when one is invalid), records it PENDING
// and starts running it; the operation's result names it.
func (c *Controller) JobsLaunch(ctx context.Context, req api.JobsLaunchRequest) (*api.Operation[api.JobsLaunchResult], error) {
	pool := req.Options.Pool
	if req.Options.NumJobs != 0 && pool == "" {
		return nil, badRequest("--num-jobs needs --pool: only jobs submitted to a pool are launched several at once")
	}
	if req.Options.NumJobs < 0 {
		return nil, badRequest("--num-jobs must be at least 1, got %d", req.Options.NumJobs)
	}
	if pool != "" {
		p, _, err := c.st.Pool(ctx, pool)
		if errors.Is(err, ErrNoPool) || err == nil && p.Down {
			return nil, &api.PoolNotFoundError{Name: pool}
		}
		if err != nil {
			return nil, err
		}
	}
	if s := req.Options.JobRecovery; s != "" && !slices.Contains(spec.RecoveryStrategies, strings.ToUpper(s)) {
		return nil, badRequest("--job-recovery %q: expected one of %s", s, strings.Join(spec.RecoveryStrategies, ", "))
	}
	name, tasks, specs, err := c.read(ctx, req)
	if err != nil {
		return nil, err
	}
	if pool != "" && len(tasks) > 1 {
		return nil, badRequest("a pipeline (%d tasks) cannot be submitted to a pool: submit its tasks one by one", len(tasks))
	}
	user, _ := caller(ctx)
	n := max(req.Options.NumJobs, 1)
	return api.Go(ctx, "", func(ctx context.Context, emit func(api.Event)) (api.JobsLaunchResult, error) {
		res := api.JobsLaunchResult{Name: name}
		for rank := range n {
			now := c.opts.Now()
			j := &Job{Name: name, User: user, SubmittedAt: now, Pool: pool, Spec: JobSpec{Tasks: specs},
				RunTimestamp: "sky-managed-" + now.UTC().Format("2006-01-02-15-04-05.000000")}
			j.RunTimestamp = strings.Replace(j.RunTimestamp, ".", "-", 1)
			if pool != "" {
				j.Spec.Rank, j.Spec.NumJobs = rank, n
			}
			rows := slices.Clone(tasks)
			if err := c.st.Insert(context.WithoutCancel(ctx), j, rows, now); err != nil {
				return res, fmt.Errorf("record managed job: %w", err)
			}
			res.IDs = append(res.IDs, j.ID)
			emit(api.Event{Type: api.EventStep, Msg: fmt.Sprintf("Managed job %d submitted", j.ID)})
			c.startRunner(j.ID)
		}
		return res, nil
	}), nil
}

// read checks the job's tasks through the core (so that every problem of every document is reported, with its
// position) and splits it into one task spec per task.
func (c *Controller) read(ctx context.Context, req api.JobsLaunchRequest) (string, []Task, []TaskSpec, error) {
	ts := req.Task
	check := ts
	check.Pipeline = true
	chk, err := c.opts.Core.Validate(ctx, check)
	if err != nil {
		return "", nil, nil, err
	}
	if err := chk.Err(); err != nil {
		return "", nil, nil, err
	}
	if err := chk.ConfigErr(); err != nil {
		return "", nil, nil, err
	}
	var (
		parsed []*spec.Task
		docs   []string
		name   string
	)
	if ts.YAML != "" || ts.FileName != "" {
		p, err := spec.Load(ts.FileName, []byte(ts.YAML), spec.LoadOptions{Env: ts.Env, Secrets: ts.Secrets})
		if err != nil {
			return "", nil, nil, err
		}
		if docs, err = spec.TaskDocuments(ts.YAML); err != nil {
			return "", nil, nil, fmt.Errorf("%s: %w", ts.FileName, err)
		}
		if len(docs) != len(p.Tasks) {
			return "", nil, nil, fmt.Errorf("%s: found %d task documents, the reader %d", ts.FileName, len(docs), len(p.Tasks))
		}
		parsed, name = p.Tasks, p.Name
	} else {
		parsed, docs = []*spec.Task{spec.FromCommand(ts.Command)}, []string{""}
	}
	if len(parsed) == 1 && name == "" {
		name = parsed[0].Name
	}
	if ts.Overrides.Name != nil {
		name = *ts.Overrides.Name
	}
	var (
		rows  []Task
		specs []TaskSpec
	)
	for i, t := range parsed {
		o := ts.Overrides
		o.Name = nil
		if err := t.ApplyOverrides(o); err != nil {
			return "", nil, nil, err
		}
		one := ts
		one.Pipeline, one.Overrides = false, o
		if docs[i] != "" {
			one.YAML = docs[i]
		}
		taskName := t.Name
		if len(parsed) == 1 && ts.Overrides.Name != nil {
			taskName = name
		}
		rows = append(rows, Task{Name: taskName, Resources: requested(t)})
		specs = append(specs, TaskSpec{Task: one, Recovery: RecoveryOf(t.Resources.JobRecovery, req.Options.JobRecovery)})
	}
	return name, rows, specs, nil
}

// requested is what a task asks for, as `jobs queue` shows it: "1x[cpus=2+, mem=4+]", "2x[A100:8]".
func requested(t *spec.Task) string {
	r := t.Resources
	var parts []string
	if s := r.Accelerators.String(); s != "" {
		parts = append(parts, s)
	}
	if r.CPUs != nil {
		parts = append(parts, "cpus="+r.CPUs.String())
	}
	if r.Memory != nil {
		parts = append(parts, "mem="+r.Memory.String())
	}
	if r.InstanceType != "" {
		parts = append(parts, r.InstanceType)
	}
	if r.Spot() {
		parts = append(parts, "spot")
	}
	if len(parts) == 0 {
		parts = []string{"-"}
	}
	return fmt.Sprintf("%dx[%s]", max(t.NumNodes, 1), strings.Join(parts, ", "))
}

// JobsQueue lists the caller's managed jobs (everyone's for an admin asking for all users), one row per task.
func (c *Controller) JobsQueue(ctx context.Context, opts api.JobsQueueOptions) ([]api.ManagedJob, error) {
	if err := checkQueueOptions(opts); err != nil {
		return nil, err
	}
	return c.st.Queue(ctx, queueFilter(ctx, opts), c.opts.Now())
}

// JobsCount is how many jobs JobsQueue lists for the caller, whatever opts' Limit and Offset (api.JobsCounter).
func (c *Controller) JobsCount(ctx context.Context, opts api.JobsQueueOptions) (int, error) {
	if err := checkQueueOptions(opts); err != nil {
		return 0, err
	}
	return c.st.Count(ctx, queueFilter(ctx, opts))
}

// checkQueueOptions refuses a sort key the queue does not know.
func checkQueueOptions(opts api.JobsQueueOptions) error {
	if _, ok := sortSQL(opts.Sort); !ok {
		return badRequest("unknown sort %q for the managed jobs queue: use id, name, status, user, submitted or recoveries", opts.Sort)
	}
	return nil
}

// queueFilter is the store's filter for a queue the caller asks for: their own jobs, unless they see all.
func queueFilter(ctx context.Context, opts api.JobsQueueOptions) Filter {
	f := Filter{SkipFinished: opts.SkipFinished, IDs: opts.IDs, Limit: opts.Limit, Offset: opts.Offset, Events: opts.Events,
		Status: opts.Status, Search: opts.Search, Sort: opts.Sort, Desc: opts.Desc}
	if user, all := caller(ctx); !all {
		f.User = user
	}
	return f
}

// owned returns job id if the caller may see it, else a ManagedJobNotFoundError.
func (c *Controller) owned(ctx context.Context, id int64) (*Job, []Task, error) {
	j, tasks, err := c.st.Job(ctx, id)
	if errors.Is(err, ErrNoJob) {
		return nil, nil, &api.ManagedJobNotFoundError{ID: id}
	}
	if err != nil {
		return nil, nil, err
	}
	if user, _ := caller(ctx); user != "" && j.User != user {
		if id, _ := auth.From(ctx); !id.IsAdmin() {
			return nil, nil, &api.ManagedJobNotFoundError{ID: j.ID}
		}
	}
	return j, tasks, nil
}

// JobsCancel cancels jobs by ID, by name or all the caller's unfinished ones: each becomes CANCELLING, and its
// controller tears its cluster down and ends it CANCELLED, whatever state it was in. An unknown ID (or another
// user's) is an outcome with no status and a message, a finished one an outcome with its final state; a name
// with no unfinished job is a ManagedJobNotFoundError.
func (c *Controller) JobsCancel(ctx context.Context, req api.JobsCancelRequest) (*api.Operation[[]api.JobsCancelOutcome], error) {
	var (
		jobs []*Job
		out  []api.JobsCancelOutcome
	)
	switch {
	case len(req.IDs) > 0:
		for _, id := range req.IDs {
			j, _, err := c.owned(ctx, id)
			var nf *api.ManagedJobNotFoundError
			if errors.As(err, &nf) {
				// As SkyPilot: skipped, with a message; the others are cancelled.
				out = append(out, api.JobsCancelOutcome{ID: id, Message: nf.Error()})
				continue
			}
			if err != nil {
				return nil, err
			}
			jobs = append(jobs, j)
		}
	case req.Pool != "":
		if _, _, err := c.st.Pool(ctx, req.Pool); errors.Is(err, ErrNoPool) {
			return nil, &api.PoolNotFoundError{Name: req.Pool}
		} else if err != nil {
			return nil, err
		}
		f := Filter{Pool: req.Pool, SkipFinished: true}
		if user, all := caller(ctx); !all {
			f.User = user
		}
		var err error
		if jobs, err = c.st.Jobs(ctx, f); err != nil {
			return nil, err
		}
	case req.Name != "" || req.All:
		f := Filter{Name: req.Name, SkipFinished: true}
		if user, all := caller(ctx); !all {
			f.User = user
		}
		var err error
		if jobs, err = c.st.Jobs(ctx, f); err != nil {
			return nil, err
		}
		if len(jobs) == 0 && req.Name != "" {
			return nil, &api.ManagedJobNotFoundError{Name: req.Name}
		}
	default:
		return nil, badRequest("name the managed jobs to cancel: job IDs, -n NAME, -p POOL or -a")
	}
	more, err := c.cancelJobs(ctx, jobs)
	if err != nil {
		return nil, err
	}
	out = append(out, more...)
	return api.Go(ctx, "", func(context.Context, func(api.Event)) ([]api.JobsCancelOutcome, error) { return out, nil }), nil
}

// cancelJobs asks each job to be cancelled and wakes its runner (taking over a job no controller runs); a job
// already finished is an outcome with its final state.
func (c *Controller) cancelJobs(ctx context.Context, jobs []*Job) ([]api.JobsCancelOutcome, error) {
	var out []api.JobsCancelOutcome
	for _, j := range jobs {
		ok, err := c.st.RequestCancel(ctx, j.ID)
		if err != nil {
			return nil, err
		}
		if !ok {
			cur, _, err := c.st.Job(ctx, j.ID)
			if err != nil {
				return nil, err
			}
			out = append(out, api.JobsCancelOutcome{ID: j.ID, Status: cur.Status,
				Message: fmt.Sprintf("managed job %d already finished (%s)", j.ID, cur.Status)})
			continue
		}
		c.cancelLocal(j.ID)
		c.startRunner(j.ID) // a job no controller runs (its server died) is taken over, and cancelled
		out = append(out, api.JobsCancelOutcome{ID: j.ID, Status: api.ManagedCancelling})
	}
	return out, nil
}

// UploadsInUse lists the uploaded trees that unfinished jobs and pools name (TaskSpec.Uploads of their tasks):
// each recovery, and each worker's launch, reads them again, so the server's garbage collection keeps them (server.GCOptions.UploadsInUse).
func (c *Controller) UploadsInUse(ctx context.Context) ([]string, error) {
	jobs, err := c.st.Jobs(ctx, Filter{SkipFinished: true})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, j := range jobs {
		for _, t := range j.Spec.Tasks {
			for _, id := range t.Task.Uploads {
				out = append(out, id)
			}
		}
	}
	// A pool's workers read their task's uploads at every (re)launch.
	names, err := c.st.PoolNames(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		p, _, err := c.st.Pool(ctx, n)
		if errors.Is(err, ErrNoPool) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, id := range p.Spec.Uploads {
			out = append(out, id)
		}
	}
	return out, nil
}

// badRequest is the error of a request that cannot be done as asked (HTTP 400 through the server).
func badRequest(format string, args ...any) error {
	return &api.Error{Code: api.CodeBadRequest, Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

// pollEvery is how often a follower of a job's logs looks for more.
const pollEvery = 200 * time.Millisecond
