package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/stix-run/stix/api"
)

// registerJobs adds the managed-jobs routes (`stix jobs`): launch and cancel become requests, run by the core
// (whose controller keeps the jobs) as the caller; queue and logs are reads. A user sees and acts on their own
// jobs only; ?all_users=true is for admins.
func (s *Server) registerJobs() {
	c := s.opts.Client
	s.handle("POST /api/v1/jobs/launch", submit(s, "jobs_launch", func(ctx context.Context, b api.JobsLaunchRequest) (operation, error) {
		return op(withController(c.JobsLaunch(ctx, b)))
	}, nil))
	s.handle("POST /api/v1/jobs/cancel", s.jobsCancel)
	s.handle("GET /api/v1/jobs", query(func(ctx context.Context, r *http.Request) (any, error) {
		all, err := allUsers(r)
		if err != nil {
			return nil, err
		}
		v := r.URL.Query()
		opts := api.JobsQueueOptions{SkipFinished: boolParam(r, "skip_finished"), Events: boolParam(r, "events"),
			Status: api.ManagedJobStatus(v.Get("status")), Search: v.Get("q"), Sort: v.Get("sort"), Desc: boolParam(r, "desc")}
		if opts.Limit, err = optInt(r, "limit"); err != nil {
			return nil, err
		}
		if opts.Offset, err = optInt(r, "offset"); err != nil {
			return nil, err
		}
		for _, v := range r.URL.Query()["job_id"] {
			id, err := jobID(v)
			if err != nil {
				return nil, err
			}
			opts.IDs = append(opts.IDs, id)
		}
		if all {
			ctx = api.WithAllUsers(ctx)
		}
		jobs, err := withController(c.JobsQueue(ctx, opts))
		if err != nil || all {
			return orEmpty(jobs), err
		}
		return ownJobs(ctx, jobs), nil
	}))
	s.handle("GET /api/v1/jobs/{id}/logs", s.jobsLogs)
	// Pools (`stix jobs pool`), run by the same controller.
	s.handle("POST /api/v1/jobs/pool/apply", submit(s, "jobs_pool_apply", func(ctx context.Context, b api.PoolApplyRequest) (operation, error) {
		return op(withController(c.PoolApply(ctx, b)))
	}, nil))
	s.handle("POST /api/v1/jobs/pool/down", submit(s, "jobs_pool_down", func(ctx context.Context, b api.PoolDownRequest) (operation, error) {
		return op(withController(c.PoolDown(ctx, b)))
	}, nil))
	s.handle("GET /api/v1/jobs/pool/{name}/logs", s.poolLogs)
	s.handle("GET /api/v1/jobs/pool", query(func(ctx context.Context, r *http.Request) (any, error) {
		pools, err := withController(c.PoolStatus(ctx, r.URL.Query()["pool_name"]))
		if pools == nil && err == nil {
			pools = []api.Pool{}
		}
		return pools, err
	}))
}

// jobsCancel submits a jobs_cancel request; ?all_users=true (every user's jobs) needs an admin, checked before
// anything is recorded.
func (s *Server) jobsCancel(w http.ResponseWriter, r *http.Request) {
	all, err := allUsers(r)
	if err != nil {
		writeError(w, err)
		return
	}
	submit(s, "jobs_cancel", func(ctx context.Context, b api.JobsCancelRequest) (operation, error) {
		if all {
			ctx = api.WithAllUsers(ctx)
		}
		return op(withController(s.opts.Client.JobsCancel(ctx, b)))
	}, nil)(w, r)
}

// jobsLogs streams a managed job's output (?controller=true: its controller's log) as NDJSON (api.LogLine),
// then its tasks (or the error that ended the stream). ?offset=N skips the first N bytes: a client resumes
// where its connection dropped.
func (s *Server) jobsLogs(w http.ResponseWriter, r *http.Request) {
	id, err := jobID(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	tail, err := optInt(r, "tail")
	if err != nil {
		writeError(w, err)
		return
	}
	skip, err := optInt(r, "offset")
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	lw := &logWriter{enc: json.NewEncoder(w), flush: http.NewResponseController(w).Flush, skip: int64(skip)}
	opts := api.JobsLogsOptions{Follow: boolParam(r, "follow"), Controller: boolParam(r, "controller"), Tail: tail}
	tasks, err := withController(s.opts.Client.JobsLogs(r.Context(), id, opts, lw))
	if err != nil {
		_ = lw.enc.Encode(api.LogLine{Offset: lw.offset, Error: api.WireError(err)})
		return
	}
	_ = lw.enc.Encode(api.LogLine{Offset: lw.offset, Tasks: orEmpty(tasks)})
}

// withController turns the core's "needs a server" (a core with no managed-jobs controller, which this server
// is) into an answer that says so, rather than telling the server's client to start a server.
func withController[T any](v T, err error) (T, error) {
	var ns *api.NeedsServerError
	if errors.As(err, &ns) {
		return v, &api.Error{Code: api.CodeFailed, Status: http.StatusNotImplemented,
			Message: "this API server runs no managed-jobs controller",
			Hint:    "upgrade the API server to a stix that runs managed jobs (`stix api info` shows its version)"}
	}
	return v, err
}

// jobID reads a managed job ID: a whole number, 0 or more (0: the caller's latest job).
func jobID(v string) (int64, error) {
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 0 {
		return 0, badRequest("managed job ID must be a whole number, 0 or more; got %q", v)
	}
	return id, nil
}

// ownJobs keeps the caller's rows: whatever the core answers, a user sees only their own managed jobs.
func ownJobs(ctx context.Context, jobs []api.ManagedJob) []api.ManagedJob {
	me := identity(ctx).Name
	out := []api.ManagedJob{}
	for _, j := range jobs {
		if j.User == me {
			out = append(out, j)
		}
	}
	return out
}

// orEmpty sends an empty list as [] rather than null.
func orEmpty(jobs []api.ManagedJob) []api.ManagedJob {
	if jobs == nil {
		return []api.ManagedJob{}
	}
	return jobs
}

// poolLogs streams a pool's controller log (?controller=true) or a worker's setup output (?worker_id=N) as
// NDJSON (api.LogLine), ended by {"tasks": []} (or the error that ended it). ?offset=N skips the first N bytes.
func (s *Server) poolLogs(w http.ResponseWriter, r *http.Request) {
	skip, err := optInt(r, "offset")
	if err != nil {
		writeError(w, err)
		return
	}
	opts := api.PoolLogsOptions{Follow: boolParam(r, "follow"), Controller: boolParam(r, "controller")}
	if opts.WorkerID, err = optInt(r, "worker_id"); err != nil {
		writeError(w, err)
		return
	}
	if opts.Tail, err = optInt(r, "tail"); err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	lw := &logWriter{enc: json.NewEncoder(w), flush: http.NewResponseController(w).Flush, skip: int64(skip)}
	if _, err := withController(struct{}{}, s.opts.Client.PoolLogs(r.Context(), r.PathValue("name"), opts, lw)); err != nil {
		_ = lw.enc.Encode(api.LogLine{Offset: lw.offset, Error: api.WireError(err)})
		return
	}
	_ = lw.enc.Encode(api.LogLine{Offset: lw.offset, Tasks: []api.ManagedJob{}})
}
