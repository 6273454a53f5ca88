package api

import (
	"context"
	"fmt"
	"io"
	"time"
)

// ManagedJobs is the managed-jobs part of Client (`stix jobs`). Managed jobs are run by a controller that lives
// in the API server process: with no endpoint configured, the CLI starts a local server for them, so the
// embedded core answers these calls with a NeedsServerError.
type ManagedJobs interface {
	// JobsLaunch submits a managed job (a pipeline when the task holds several documents); the result names the
	// job IDs submitted (several with a pool's --num-jobs).
	JobsLaunch(ctx context.Context, req JobsLaunchRequest) (*Operation[JobsLaunchResult], error)
	// JobsQueue lists managed jobs, one row per task (a pipeline has several rows with the same ID), newest job
	// first. Only the caller's own jobs unless ctx carries WithAllUsers.
	JobsQueue(ctx context.Context, opts JobsQueueOptions) ([]ManagedJob, error)
	// JobsCancel cancels managed jobs by ID, by name, or all the caller's unfinished ones.
	JobsCancel(ctx context.Context, req JobsCancelRequest) (*Operation[[]JobsCancelOutcome], error)
	// JobsLogs writes a managed job's output to w (id 0: the caller's latest job) and returns the job's tasks as
	// they ended or stand; with Controller it writes the controller's log of the job instead. A job that does
	// not exist is a ManagedJobNotFoundError.
	JobsLogs(ctx context.Context, id int64, opts JobsLogsOptions, w io.Writer) ([]ManagedJob, error)
}

// ManagedJobStatus is a managed job's (or one of its tasks') state; the values and their meaning are SkyPilot's.
type ManagedJobStatus string

// Managed job states.
const (
	// ManagedPending: submitted, waiting for the controller to start it (or backing off between launch tries).
	ManagedPending ManagedJobStatus = "PENDING"
	// ManagedStarting: its cluster is being provisioned.
	ManagedStarting ManagedJobStatus = "STARTING"
	// ManagedRunning: the task runs on its cluster.
	ManagedRunning ManagedJobStatus = "RUNNING"
	// ManagedRecovering: its cluster was lost (or the task failed with restarts left) and is being relaunched.
	ManagedRecovering ManagedJobStatus = "RECOVERING"
	// ManagedSucceeded: every task ended with exit code 0.
	ManagedSucceeded ManagedJobStatus = "SUCCEEDED"
	// ManagedCancelling: cancel asked, its cluster is being torn down.
	ManagedCancelling ManagedJobStatus = "CANCELLING"
	// ManagedCancelled: cancelled by the user.
	ManagedCancelled ManagedJobStatus = "CANCELLED"
	// ManagedFailed: the task's run failed (non-zero exit) with no restarts left.
	ManagedFailed ManagedJobStatus = "FAILED"
	// ManagedFailedSetup: the task's setup failed.
	ManagedFailedSetup ManagedJobStatus = "FAILED_SETUP"
	// ManagedFailedPrechecks: the task or its credentials are invalid; nothing was launched.
	ManagedFailedPrechecks ManagedJobStatus = "FAILED_PRECHECKS"
	// ManagedFailedNoResource: no infra could run it within the retries allowed.
	ManagedFailedNoResource ManagedJobStatus = "FAILED_NO_RESOURCE"
	// ManagedFailedController: the controller failed while running it (never because the controller restarted).
	ManagedFailedController ManagedJobStatus = "FAILED_CONTROLLER"
)

// Terminal reports whether s is a final state.
func (s ManagedJobStatus) Terminal() bool {
	switch s {
	case ManagedSucceeded, ManagedCancelled, ManagedFailed, ManagedFailedSetup, ManagedFailedPrechecks,
		ManagedFailedNoResource, ManagedFailedController:
		return true
	}
	return false
}

// Failed reports whether s is one of the FAILED states.
func (s ManagedJobStatus) Failed() bool {
	return s.Terminal() && s != ManagedSucceeded && s != ManagedCancelled
}

// ManagedJob is one task of a managed job, as `stix jobs queue` shows it.
type ManagedJob struct {
	ID        int64            `json:"job_id"`
	TaskID    int              `json:"task_id"` // the task's position in its pipeline, from 0
	Name      string           `json:"job_name"`
	TaskName  string           `json:"task_name"`
	User      string           `json:"user_name"`
	Workspace string           `json:"workspace,omitempty"`
	Status    ManagedJobStatus `json:"status"`
	// Resources is what the task asked for, e.g. "1x[A100:8]" or "1x[cpus=2+]".
	Resources string `json:"resources"`
	// Infra is where the task runs or last ran, e.g. "Docker" or "AWS (us-east-1)"; empty before a launch.
	Infra string `json:"infra,omitempty"`
	// Cluster is the task's job cluster while one exists (a pool job's: its worker's cluster).
	Cluster string `json:"cluster_name,omitempty"`
	// Pool is the pool the job was submitted to (--pool); empty for a job with clusters of its own.
	Pool        string     `json:"pool,omitempty"`
	SubmittedAt time.Time  `json:"submitted_at"`
	StartedAt   *time.Time `json:"start_at,omitempty"` // first time the task ran
	EndedAt     *time.Time `json:"end_at,omitempty"`
	// JobDuration is the time the task spent RUNNING, recoveries excluded.
	JobDuration Seconds `json:"job_duration"`
	Recoveries  int     `json:"recovery_count"`
	// FailureReason says why a failed or cancelled task ended.
	FailureReason string `json:"failure_reason,omitempty"`
	// Events are the task's state changes with their reasons (why each recovery happened), oldest first.
	Events []ManagedJobEvent `json:"events,omitempty"`
}

// ManagedJobEvent is one state change of a managed job's task.
type ManagedJobEvent struct {
	At     time.Time        `json:"at"`
	Status ManagedJobStatus `json:"status"`
	// Reason is a stable word for why, e.g. "preempted", "user_error_restart", "controller_restart", "cancelled".
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// JobsLaunchRequest is a managed job to submit.
type JobsLaunchRequest struct {
	// Task is the job: one task, or a pipeline (several YAML documents, Task.Pipeline set). Its Overrides.Name
	// names the job.
	Task    TaskSpec          `json:"task"`
	Options JobsLaunchOptions `json:"options"`
}

// JobsLaunchOptions say how to run a managed job.
type JobsLaunchOptions struct {
	// JobRecovery overrides every task's job_recovery strategy (EAGER_NEXT_REGION, FAILOVER).
	JobRecovery string `json:"job_recovery,omitempty"`
	// Pool submits to the named pool's workers; NumJobs submits that many copies (at least 1).
	Pool    string `json:"pool,omitempty"`
	NumJobs int    `json:"num_jobs,omitempty"`
}

// JobsLaunchResult names the jobs submitted.
type JobsLaunchResult struct {
	IDs  []int64 `json:"job_ids"`
	Name string  `json:"job_name"`
}

// JobsQueueOptions select the rows of `stix jobs queue`.
type JobsQueueOptions struct {
	// SkipFinished leaves out jobs in a terminal state.
	SkipFinished bool `json:"skip_finished,omitempty"`
	// IDs limits the queue to these jobs.
	IDs []int64 `json:"job_ids,omitempty"`
	// Limit keeps the newest Limit jobs; 0 keeps all.
	Limit int `json:"limit,omitempty"`
	// Offset skips the newest Offset jobs before Limit: with Limit, one page of the queue.
	Offset int `json:"offset,omitempty"`
	// Events fills each row's Events (every state change, why each recovery happened); without it Events is
	// empty, which keeps a queue of thousands of finished jobs small (the detail view asks for them).
	Events bool `json:"events,omitempty"`
	// Status keeps the jobs whose job-level state is Status: the first task's state that is not done (not
	// finished, or failed or cancelled), else the last task's, as the queue's per-task rows show it.
	Status ManagedJobStatus `json:"status,omitempty"`
	// Search keeps the jobs whose ID, name, user, or first task's infra or resources contain it (any case).
	Search string `json:"q,omitempty"`
	// Sort orders the jobs by "name", "status", "user", "submitted" or "recoveries" (ties by ID); "" or "id"
	// by ID. Desc reverses it; the default order (Sort "") is newest first.
	Sort string `json:"sort,omitempty"`
	Desc bool   `json:"desc,omitempty"`
}

// JobsCounter is a client that counts the managed jobs a queue lists (jobs, not their tasks' rows) without
// reading them, whatever the options' Limit and Offset: the length of the queue one page is of. The API
// server's managed-jobs controller is one.
type JobsCounter interface {
	JobsCount(ctx context.Context, opts JobsQueueOptions) (int, error)
}

// JobsCancelRequest selects the managed jobs to cancel: IDs, or Name, or Pool, or All (the caller's unfinished jobs;
// everyone's when ctx carries WithAllUsers).
type JobsCancelRequest struct {
	IDs  []int64 `json:"job_ids,omitempty"`
	Name string  `json:"name,omitempty"`
	All  bool    `json:"all,omitempty"`
	// Pool selects the unfinished jobs submitted to this pool (`jobs cancel -p`).
	Pool string `json:"pool,omitempty"`
}

// JobsCancelOutcome is what cancelling one managed job did.
type JobsCancelOutcome struct {
	ID int64 `json:"job_id"`
	// Status is the job's state after the call: CANCELLING or CANCELLED, or the final state it already had.
	Status ManagedJobStatus `json:"status"`
	// Message explains a job that was not cancelled (already finished).
	Message string `json:"message,omitempty"`
}

// JobsLogsOptions say what `stix jobs logs` shows.
type JobsLogsOptions struct {
	Follow     bool `json:"follow,omitempty"`
	Controller bool `json:"controller,omitempty"`
	// Tail shows only the last Tail lines (0: all).
	Tail int `json:"tail,omitempty"`
}

// ManagedJobNotFoundError is the error for a managed job ID (or name) the controller has no record of, or
// that belongs to another user (`stix jobs logs --status` exits 102).
type ManagedJobNotFoundError struct {
	ID   int64
	Name string
}

func (e *ManagedJobNotFoundError) Error() string {
	switch {
	case e.Name != "":
		return fmt.Sprintf("no managed job named %q: see `stix jobs queue`", e.Name)
	case e.ID == 0:
		return "no managed jobs yet: submit one with `stix jobs launch`"
	}
	return fmt.Sprintf("managed job %d not found: see `stix jobs queue`", e.ID)
}

// NeedsServerError is the error of a call that only an API server answers (managed jobs and services run in
// the server's controllers); the CLI starts a local server for it.
type NeedsServerError struct{ What string }

func (e *NeedsServerError) Error() string {
	return e.What + " run in the API server: start one with `stix api start`, or use a client that has an endpoint"
}
