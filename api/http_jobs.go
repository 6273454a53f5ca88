package api

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// The managed-jobs calls over HTTP (routes under /api/v1/jobs, documented in api/openapi.yaml).

// JobsLaunch submits a managed job to the server; the request's result is the JobsLaunchResult.
func (c *HTTPClient) JobsLaunch(ctx context.Context, req JobsLaunchRequest) (*Operation[JobsLaunchResult], error) {
	var err error
	if req.Task, err = clientTask(req.Task); err != nil {
		return nil, err
	}
	return submit[JobsLaunchResult](ctx, c, "/api/v1/jobs/launch", req)
}

// JobsQueue lists the server's managed jobs: the caller's, or everyone's when ctx carries WithAllUsers.
func (c *HTTPClient) JobsQueue(ctx context.Context, opts JobsQueueOptions) ([]ManagedJob, error) {
	q := url.Values{}
	if opts.SkipFinished {
		q.Set("skip_finished", "true")
	}
	for _, id := range opts.IDs {
		q.Add("job_id", strconv.FormatInt(id, 10))
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Offset > 0 {
		q.Set("offset", strconv.Itoa(opts.Offset))
	}
	if opts.Events {
		q.Set("events", "true")
	}
	for k, v := range map[string]string{"status": string(opts.Status), "q": opts.Search, "sort": opts.Sort} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if opts.Desc {
		q.Set("desc", "true")
	}
	if AllUsers(ctx) {
		q.Set("all_users", "true")
	}
	var out []ManagedJob
	return out, c.call(ctx, http.MethodGet, "/api/v1/jobs", q, nil, &out)
}

// JobsCancel cancels managed jobs on the server (every user's selected jobs when ctx carries WithAllUsers); the
// request's result is one outcome per job.
func (c *HTTPClient) JobsCancel(ctx context.Context, req JobsCancelRequest) (*Operation[[]JobsCancelOutcome], error) {
	path := "/api/v1/jobs/cancel"
	if AllUsers(ctx) {
		path += "?all_users=true"
	}
	return submit[[]JobsCancelOutcome](ctx, c, path, req)
}

// JobsLogs copies a managed job's streamed output (or its controller's log) into w, resuming at the byte it
// stopped at after a dropped connection, and returns the job's tasks as the stream ended. id 0 (the caller's
// latest job) is resolved first, so that a resumed stream stays on that job whatever is submitted meanwhile.
func (c *HTTPClient) JobsLogs(ctx context.Context, id int64, opts JobsLogsOptions, w io.Writer) ([]ManagedJob, error) {
	if id == 0 {
		latest, err := c.JobsQueue(ctx, JobsQueueOptions{Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(latest) == 0 {
			return nil, &ManagedJobNotFoundError{}
		}
		id = latest[0].ID
	}
	q := url.Values{"follow": {strconv.FormatBool(opts.Follow)}}
	if opts.Controller {
		q.Set("controller", "true")
	}
	if opts.Tail > 0 {
		q.Set("tail", strconv.Itoa(opts.Tail))
	}
	end, err := c.followLog(ctx, "/api/v1/jobs/"+strconv.FormatInt(id, 10)+"/logs", q, w)
	return end.Tasks, err
}
