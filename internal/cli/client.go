package cli

import (
	"context"
	"io"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/spec"
)

// Client is everything the commands ask of stix's core. The embedded implementation (internal/cluster) does
// the work in this process against $STIX_HOME; a REST client to `stix api` will implement it too.
type Client interface {
	// Launch provisions or reuses a cluster and queues the task on it.
	Launch(ctx context.Context, task *spec.Task, opts api.LaunchOptions) (*api.LaunchResult, error)
	// Plan shows where the task would run and what was considered (`launch --dryrun`); nothing changes.
	Plan(ctx context.Context, task *spec.Task) (*api.Plan, error)
	// Exec queues the task on an UP cluster, without setup.
	Exec(ctx context.Context, cluster string, task *spec.Task, opts api.ExecOptions) (*api.LaunchResult, error)
	// Status lists clusters (all when names is empty), reconciled with their providers when refresh is set.
	Status(ctx context.Context, names []string, refresh bool) ([]api.Cluster, error)
	// Match expands cluster names and globs; all selects every cluster.
	Match(ctx context.Context, patterns []string, all bool) ([]string, error)
	// Queue lists a cluster's jobs.
	Queue(ctx context.Context, cluster string, skipFinished bool) ([]api.Job, error)
	// Job returns one job (id 0: the latest).
	Job(ctx context.Context, cluster string, id int) (api.Job, error)
	// Logs writes a job's output to w (id 0: the latest) and returns the job as it ended or stands.
	Logs(ctx context.Context, cluster string, id int, opts api.LogsOptions, w io.Writer) (api.Job, error)
	// Cancel cancels jobs by id, or all unfinished ones.
	Cancel(ctx context.Context, cluster string, ids []int, all bool) ([]api.CancelOutcome, error)
	// Stop, Start and Down change a cluster's lifecycle.
	Stop(ctx context.Context, cluster string) error
	Start(ctx context.Context, cluster string, progress api.ProgressFunc) error
	Down(ctx context.Context, cluster string, purge bool) error
	// Autostop changes a cluster's autostop setting.
	Autostop(ctx context.Context, cluster string, opts api.AutostopOptions) error
	// CostReport lists every cluster launched, with its estimated cost.
	CostReport(ctx context.Context) ([]api.CostReportEntry, error)
	// Close releases the client.
	Close() error
}
