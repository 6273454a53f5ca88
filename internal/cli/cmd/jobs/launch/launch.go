// Package launch implements `stix jobs launch`: submit a managed job.
package launch

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/taskflags"
)

// LaunchOptions are the parsed flags and arguments of `stix jobs launch`.
type LaunchOptions struct {
	IO *cli.IOStreams

	// Task is the entrypoint (a YAML, possibly a multi-document pipeline, or a command) with the task flags.
	// Its Overrides.Name is the job name (-n, or the hidden alias -c).
	Task taskflags.Task
	// JobRecovery overrides the YAML's job_recovery strategy (e.g. FAILOVER, EAGER_NEXT_REGION).
	JobRecovery string
	DetachRun   bool // -d: return once submitted
	Yes         bool
	// Pool (-p) submits to an existing pool of workers instead of a fresh cluster; NumJobs submits that many.
	Pool    string
	NumJobs *int
	Async   bool
}

// NewCmdLaunch builds `stix jobs launch`. runF, when not nil, replaces the real run (the test seam).
func NewCmdLaunch(f *cli.Factory, runF func(*LaunchOptions) error) *cobra.Command {
	opts := &LaunchOptions{IO: f.IOStreams}
	var task *taskflags.Flags
	var cluster string
	cmd := &cobra.Command{
		Use:   "launch [flags] ENTRYPOINT...",
		Short: "Launch a managed job from a task YAML or a command",
		Long: "Launch a managed job: a controller provisions a cluster for it, watches it, recovers it from\n" +
			"preemption or failure as job_recovery says, and tears the cluster down when the job ends.\n\n" +
			"ENTRYPOINT is a task YAML (several documents make a pipeline) or a shell command.",
		Example: "  stix jobs launch task.yaml\n  stix jobs launch -n train --use-spot 'python train.py'",
		Args:    cli.MinArgs(1, "ENTRYPOINT: a task YAML or a command"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.Task, err = task.Resolve(cmd, f.IOStreams, f.Getenv, args); err != nil {
				return err
			}
			if cmd.Flags().Changed("cluster") {
				if n := opts.Task.Overrides.Name; n != nil && *n != cluster {
					return cli.FlagErrorf("-c/--cluster is another name for -n/--name: give only one")
				}
				opts.Task.Overrides.Name = &cluster
			}
			if opts.NumJobs != nil && opts.Pool == "" {
				return cli.FlagErrorf("--num-jobs needs --pool")
			}
			if opts.NumJobs != nil && *opts.NumJobs < 1 {
				return cli.FlagErrorf("--num-jobs must be at least 1, got %d", *opts.NumJobs)
			}
			if runF != nil {
				return runF(opts)
			}
			return launchRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&cluster, "cluster", "c", "", "Same as -n/--name: the job's name")
	_ = fs.MarkHidden("cluster")
	fs.StringVar(&opts.JobRecovery, "job-recovery", "", "Recovery strategy for the job, e.g. FAILOVER or EAGER_NEXT_REGION")
	fs.BoolVarP(&opts.DetachRun, "detach-run", "d", false, "Return as soon as the job is submitted; do not stream its logs")
	cli.AddYes(fs, &opts.Yes)
	fs.StringVarP(&opts.Pool, "pool", "p", "", "Submit to this pool of workers (experimental)")
	cli.AddIntPtr(fs, &opts.NumJobs, "num-jobs", "", "With --pool: number of jobs to submit")
	cli.AddAsyncUnbuilt(fs, &opts.Async)
	task = taskflags.Add(cmd, taskflags.WithName(), taskflags.WithGit())
	return cmd
}

func launchRun(opts *LaunchOptions) error {
	return cli.NotImplemented("jobs launch")
}
