// Package queue implements `stix jobs queue`: list managed jobs and their states.
package queue

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
)

// DefaultLimit is how many jobs are listed without -l or -a, as SkyPilot's.
const DefaultLimit = 50

// QueueOptions are the parsed flags and arguments of `stix jobs queue`.
type QueueOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)
	Now    func() time.Time

	Verbose      bool // -v: every column (infra, cluster, failure reason, ...)
	Refresh      bool // -r: restart a stopped jobs controller to get the latest states
	SkipFinished bool // -s: only jobs still in progress
	AllUsers     bool // -u
	// Limit is how many of the latest jobs to show; 0 (set by -a/--all) shows all.
	Limit  int
	Output cli.OutputFormat
}

// NewCmdQueue builds `stix jobs queue`. runF, when not nil, replaces the real run (the test seam).
func NewCmdQueue(f *cli.Factory, runF func(*QueueOptions) error) *cobra.Command {
	opts := &QueueOptions{IO: f.IOStreams, Client: f.ControllerClient, Now: f.Now}
	var all bool
	cmd := &cobra.Command{
		Use:   "queue [flags]",
		Short: "Show managed jobs and their states",
		Long: "Show managed jobs: PENDING, STARTING, RUNNING, RECOVERING, SUCCEEDED, CANCELLING, CANCELLED, FAILED,\n" +
			"FAILED_SETUP, FAILED_PRECHECKS, FAILED_NO_RESOURCE or FAILED_CONTROLLER. A pipeline shows a row for the\n" +
			"job, then one per task. With -v, DETAILS says why each recovery happened and why a job failed; see also\n" +
			"`stix jobs logs --controller JOB_ID`.",
		Example: "  stix jobs queue\n  stix jobs queue -s -l 10\n  stix jobs queue -o json",
		Args:    cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Limit < 1 {
				return cli.FlagErrorf("-l/--limit must be at least 1 (use -a/--all for every job), got %d", opts.Limit)
			}
			if all {
				opts.Limit = 0
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return queueRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.Verbose, "verbose", "v", false, "Show all information in full")
	fs.IntVarP(&opts.Limit, "limit", "l", DefaultLimit, "Show the latest N jobs (-a for all)")
	fs.BoolVarP(&opts.Refresh, "refresh", "r", false, "Query the latest states, restarting the jobs controller if it is stopped")
	fs.BoolVarP(&opts.SkipFinished, "skip-finished", "s", false, "Show only jobs in progress")
	fs.BoolVarP(&opts.AllUsers, "all-users", "u", false, "Show the jobs of all users")
	fs.BoolVarP(&all, "all", "a", false, "Show all jobs, with no limit")
	cli.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

func queueRun(opts *QueueOptions) error {
	client, err := opts.Client()
	if err != nil {
		return err
	}
	ctx := opts.Ctx
	if opts.AllUsers {
		ctx = api.WithAllUsers(ctx) // an API server shows a user their own jobs only without it
	}
	// Only the detail view shows why each recovery happened: the events of thousands of finished jobs would
	// otherwise be most of the answer.
	rows, err := client.JobsQueue(ctx, api.JobsQueueOptions{SkipFinished: opts.SkipFinished, Limit: opts.Limit, Events: opts.Verbose})
	if err != nil {
		return err
	}
	if rows == nil {
		rows = []api.ManagedJob{}
	}
	return opts.Output.Write(opts.IO, rows, func() error {
		return printQueue(opts, rows)
	})
}
