// Package launch implements `stix jobs launch`: submit a managed job.
package launch

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/taskflags"
	"github.com/stix-run/stix/internal/spec"
)

// LaunchOptions are the parsed flags and arguments of `stix jobs launch`.
type LaunchOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)
	// PlanClient answers --dryrun, which launches nothing: the CLI's own client, so that no server starts for it.
	PlanClient func() (api.Client, error)

	// Task is the entrypoint (a YAML, possibly a multi-document pipeline, or a command) with the task flags.
	// Its Overrides.Name is the job name (-n, or the hidden alias -c).
	Task taskflags.Task
	// JobRecovery overrides the YAML's job_recovery strategy (e.g. FAILOVER, EAGER_NEXT_REGION).
	JobRecovery string
	DetachRun   bool // -d: return once submitted
	Yes         bool
	DryRun      bool // --dryrun: plan every task, launch nothing
	// Pool (-p) submits to an existing pool of workers instead of a fresh cluster; NumJobs submits that many.
	Pool    string
	NumJobs *int
	Async   bool
}

// NewCmdLaunch builds `stix jobs launch`. runF, when not nil, replaces the real run (the test seam).
func NewCmdLaunch(f *cli.Factory, runF func(*LaunchOptions) error) *cobra.Command {
	opts := &LaunchOptions{IO: f.IOStreams, Client: f.ControllerClient, PlanClient: f.Client}
	var task *taskflags.Flags
	var cluster string
	cmd := &cobra.Command{
		Use:   "launch [flags] ENTRYPOINT...",
		Short: "Launch a managed job from a task YAML or a command",
		Long: "Launch a managed job: a controller provisions a cluster for it, watches it, recovers it from\n" +
			"preemption or failure as job_recovery says, and tears the cluster down when the job ends.\n\n" +
			"ENTRYPOINT is a task YAML (several documents make a pipeline, whose tasks run one after another,\n" +
			"each on its own cluster) or a shell command. Without -d the job's logs are streamed until it ends\n" +
			"and the exit code is then the job's (see `stix jobs logs --status`). With no API server configured,\n" +
			"the local one is started for the controller.",
		Example: "  stix jobs launch task.yaml\n  stix jobs launch -n train --use-spot 'python train.py'\n  stix jobs launch --dryrun pipeline.yaml",
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
			if opts.JobRecovery != "" {
				up := strings.ToUpper(strings.TrimSpace(opts.JobRecovery))
				if !slices.Contains(spec.RecoveryStrategies, up) {
					return cli.FlagErrorf("--job-recovery %q: expected one of %s", opts.JobRecovery, strings.Join(spec.RecoveryStrategies, ", "))
				}
				opts.JobRecovery = up
			}
			if opts.DryRun && opts.Async {
				return cli.FlagErrorf("--dryrun launches nothing: it cannot be --async")
			}
			opts.Ctx = cmd.Context()
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
	fs.BoolVar(&opts.DryRun, "dryrun", false, "Plan every task of the job and show where it would run; launch nothing")
	cli.AddYes(fs, &opts.Yes)
	fs.StringVarP(&opts.Pool, "pool", "p", "", "Submit to this pool of workers (experimental)")
	cli.AddIntPtr(fs, &opts.NumJobs, "num-jobs", "", "With --pool: number of jobs to submit")
	cli.AddAsync(fs, &opts.Async)
	task = taskflags.Add(cmd, taskflags.WithName(), taskflags.WithConfig(), taskflags.WithGit())
	return cmd
}

func launchRun(opts *LaunchOptions) error {
	ts, err := opts.Task.Spec(true)
	if err != nil {
		return err
	}
	ts.Pipeline = true // checked as a pipeline: every task is read, each problem named where it is
	io := opts.IO
	get := opts.Client
	if opts.DryRun {
		get = opts.PlanClient
	}
	client, err := get()
	if err != nil {
		return err
	}
	if err := cli.CheckAsync(opts.Async, client); err != nil {
		return err
	}
	if err := taskflags.Validate(opts.Ctx, client, io, ts); err != nil {
		return err
	}
	if opts.DryRun {
		plan, err := planTasks(opts.Ctx, client, ts)
		if err != nil {
			return err
		}
		cli.PrintPlan(io, plan)
		return nil
	}
	if !opts.Yes {
		if err := confirm(opts, client, ts); err != nil {
			return err
		}
	}
	// The contract marks a pipeline: several tasks (a name-only first document names it and is no task).
	docs, err := taskDocuments(ts)
	if err != nil {
		return err
	}
	ts.Pipeline = len(docs) > 1
	req := api.JobsLaunchRequest{Task: ts, Options: api.JobsLaunchOptions{JobRecovery: opts.JobRecovery, Pool: opts.Pool}}
	if opts.NumJobs != nil {
		req.Options.NumJobs = *opts.NumJobs
	}
	op, err := client.JobsLaunch(opts.Ctx, req)
	if err != nil {
		return err
	}
	if opts.Async {
		fmt.Fprintln(io.ErrOut, cli.Submitted(io, "jobs launch", op.ID))
		return nil
	}
	res, err := cli.Watch(cli.NewProgress(io), op)
	if err != nil {
		return err
	}
	if len(res.IDs) == 0 {
		return fmt.Errorf("the API server submitted no managed job and gave no reason")
	}
	if opts.DetachRun || len(res.IDs) > 1 {
		for _, id := range res.IDs {
			fmt.Fprintln(io.Out, id) // alone on stdout, for scripts
			cli.PrintManagedJobHints(io, id)
		}
		return nil
	}
	return cli.FollowManagedJob(opts.Ctx, io, client, res.IDs[0])
}

// confirm shows where each task would run and asks before anything is submitted, as SkyPilot asks "Launching a
// managed job 'NAME'. Proceed?". A user who cannot answer is told to pass -y before anything is planned.
func confirm(opts *LaunchOptions, client api.Client, ts api.TaskSpec) error {
	if opts.Pool != "" {
		// As SkyPilot: a pool's jobs use its workers' resources; nothing is planned.
		n := 1
		if opts.NumJobs != nil {
			n = *opts.NumJobs
		}
		return cli.ConfirmOrAbort(opts.IO, fmt.Sprintf("Submitting %d managed job(s) to pool '%s'. Proceed?", n, opts.Pool))
	}
	if !opts.IO.CanPrompt() {
		return cli.ConfirmOrAbort(opts.IO, "Launching a managed job. Proceed?")
	}
	plan, err := planTasks(opts.Ctx, client, ts)
	if err != nil {
		return err
	}
	name := "(new)"
	switch {
	case opts.Task.Overrides.Name != nil:
		name = *opts.Task.Overrides.Name
	case len(plan.Tasks) == 1 && plan.Tasks[0].Name != "":
		name = plan.Tasks[0].Name
	}
	fmt.Fprintln(opts.IO.ErrOut, opts.IO.Paint(cli.Yellow, fmt.Sprintf("Managed job '%s' will be launched on (estimated):", name)))
	cli.PrintPlan(opts.IO, plan)
	return cli.ConfirmOrAbort(opts.IO, fmt.Sprintf("Launching a managed job '%s'. Proceed?", name))
}

// planTasks plans every task of the job, each as the controller will launch it on a cluster of its own, and
// returns the plans as one (a task without a name is named by its position).
func planTasks(ctx context.Context, client api.Client, ts api.TaskSpec) (*api.Plan, error) {
	docs, err := taskDocuments(ts)
	if err != nil {
		return nil, err
	}
	merged := &api.Plan{}
	for i, doc := range docs {
		one := ts
		one.Pipeline = false
		one.YAML = doc
		if len(docs) > 1 {
			one.Overrides.Name = nil // -n names the job; a pipeline's tasks keep their own names
		}
		p, err := client.Plan(ctx, one)
		if err != nil {
			if len(docs) > 1 {
				return nil, fmt.Errorf("task %d of %s: %w", i+1, ts.FileName, err)
			}
			return nil, err
		}
		merged.Header = p.Header
		for _, t := range p.Tasks {
			if t.Name == "" && len(docs) > 1 {
				t.Name = strconv.Itoa(i)
			}
			merged.Tasks = append(merged.Tasks, t)
		}
	}
	return merged, nil
}
