// Package exec implements `stix exec`: run a task or command on an existing cluster, skipping provisioning and setup.
package exec

import (
	"context"
	"fmt"
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/taskflags"
)

// ExecOptions are the parsed flags and arguments of `stix exec`.
type ExecOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)

	// Cluster is the first positional argument (or the hidden -c/--cluster, for symmetry with launch).
	Cluster string
	// Task is the entrypoint (never empty) with the task flags. --cpus, --memory, --disk-size, --disk-tier and
	// --ports are accepted but ignored with a warning, as in SkyPilot: exec provisions nothing.
	Task      taskflags.Task
	DetachRun bool // -d: return once the job is submitted
	Async     bool
}

// NewCmdExec builds `stix exec`. runF, when not nil, replaces the real run (the test seam).
func NewCmdExec(f *cli.Factory, runF func(*ExecOptions) error) *cobra.Command {
	opts := &ExecOptions{IO: f.IOStreams, Client: f.Client}
	var task *taskflags.Flags
	var clusterFlag string
	cmd := &cobra.Command{
		Use:   "exec [flags] CLUSTER ENTRYPOINT...",
		Short: "Run a task or command on an existing cluster",
		Long: "Run a task or command on an existing cluster: the workdir is synced and the task is queued,\n" +
			"without provisioning, setup or file mounts. Use `stix launch` again when those change.\n\n" +
			"ENTRYPOINT is a task YAML file or a shell command, as for `stix launch`.",
		Example: "  stix exec mycluster task.yaml\n" +
			"  stix exec mycluster --gpus V100:1 python train.py\n" +
			"  stix exec mycluster --env WANDB_API_KEY python train.py",
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("cluster") {
				opts.Cluster = clusterFlag
			} else if len(args) > 0 {
				opts.Cluster, args = args[0], args[1:]
			}
			if opts.Cluster == "" {
				return cli.FlagErrorf("missing argument CLUSTER")
			}
			if len(args) == 0 {
				return cli.FlagErrorf("missing argument ENTRYPOINT: a task YAML or a command")
			}
			var err error
			if opts.Task, err = task.Resolve(cmd, f.IOStreams, f.Getenv, args); err != nil {
				return err
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return execRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&clusterFlag, "cluster", "c", "", "The cluster, same as the CLUSTER argument")
	_ = fs.MarkHidden("cluster")
	fs.BoolVarP(&opts.DetachRun, "detach-run", "d", false, "Return as soon as the job is submitted; do not stream its logs")
	cli.AddAsync(fs, &opts.Async)
	task = taskflags.Add(cmd, taskflags.WithName(), taskflags.WithConfig(), taskflags.WithGit())
	return cmd
}

func execRun(opts *ExecOptions) error {
	ts, err := opts.Task.Spec(true)
	if err != nil {
		return err
	}
	client, err := opts.Client()
	if err != nil {
		return err
	}
	if err := cli.CheckAsync(opts.Async, client); err != nil {
		return err
	}
	if err := taskflags.Validate(opts.Ctx, client, opts.IO, ts); err != nil {
		return err
	}
	command := "stix exec " + opts.Cluster + " " + opts.Task.Entrypoint.String()
	op, err := client.Exec(opts.Ctx, api.ExecRequest{Cluster: opts.Cluster, Task: ts, Options: api.ExecOptions{Command: command}})
	if err != nil {
		return err
	}
	if opts.Async {
		fmt.Fprintln(opts.IO.ErrOut, cli.Submitted(opts.IO, "exec", op.ID))
		return nil
	}
	res, err := op.Wait() // exec shows no steps: its output is the job's
	if err != nil {
		return err
	}
	if opts.DetachRun {
		cli.PrintJobHints(opts.IO, res.ClusterName, res.JobID)
		return nil
	}
	return cli.FollowJob(opts.Ctx, opts.IO, client, res.ClusterName, res.JobID)
}
