// Package apply implements `stix jobs pool apply`: create or update a pool from a YAML, or resize it.
package apply

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/cmd/serve/update"
	"github.com/stix-run/stix/internal/cli/taskflags"
)

// ApplyOptions are the parsed flags and arguments of `stix jobs pool apply`.
type ApplyOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)

	// Task is the pool's YAML (a task with a pool: section) with the task flags; empty to resize with Workers.
	Task    taskflags.Task
	HasTask bool
	Pool    string // -p: the pool's name; generated when empty
	Workers *int   // --workers: overrides pool.workers
	Yes     bool
	Async   bool
}

// NewCmdApply builds `stix jobs pool apply`. runF, when not nil, replaces the real run (the test seam).
func NewCmdApply(f *cli.Factory, runF func(*ApplyOptions) error) *cobra.Command {
	opts := &ApplyOptions{IO: f.IOStreams, Client: f.ControllerClient}
	var task *taskflags.Flags
	var mode string
	cmd := &cobra.Command{
		Use:   "apply [flags] [POOL_YAML]",
		Short: "Create or update a pool from a YAML, or change its number of workers",
		Long: "Create a pool of workers from a task YAML with a pool: section (pool.workers: N; no run section),\n" +
			"or update an existing one: a new task replaces its workers as they become idle; --workers alone\n" +
			"changes how many it keeps. Each worker is a cluster launched with the task's resources, its setup\n" +
			"run once; jobs submitted with `stix jobs launch --pool NAME` run on idle workers without provisioning.",
		Example: "  stix jobs pool apply -p gpus pool.yaml\n" +
			"  stix jobs pool apply -p gpus --workers 5",
		Args: cli.MaxArgs(1, "POOL_YAML"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			if cmd.Flags().Changed("mode") && mode != "rolling" {
				return cli.NotImplemented("jobs pool apply --mode " + mode)
			}
			if opts.Workers != nil && *opts.Workers < 1 {
				return cli.FlagErrorf("--workers must be at least 1, got %d", *opts.Workers)
			}
			if len(args) == 0 {
				if opts.Workers == nil {
					return cli.FlagErrorf("give a POOL_YAML, or -p NAME --workers N to resize a pool")
				}
				if opts.Pool == "" {
					return cli.FlagErrorf("--workers without a POOL_YAML resizes an existing pool: name it with -p NAME")
				}
			} else {
				var err error
				if opts.Task, err = task.Resolve(cmd, f.IOStreams, f.Getenv, args); err != nil {
					return err
				}
				if !opts.Task.Entrypoint.IsYAML() {
					return cli.FlagErrorf("POOL_YAML must be a YAML file (.yaml or .yml), got %q", opts.Task.Entrypoint.Command)
				}
				opts.HasTask = true
			}
			if runF != nil {
				return runF(opts)
			}
			return applyRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&opts.Pool, "pool", "p", "", "Name of the pool, unique; generated when not given")
	cli.AddChoice(fs, &mode, "mode", "", "rolling", update.Modes, "How to replace the workers of a running pool")
	cli.AddIntPtr(fs, &opts.Workers, "workers", "", "Number of workers in the pool")
	cli.AddYes(fs, &opts.Yes)
	cli.AddAsync(fs, &opts.Async)
	task = taskflags.Add(cmd)
	return cmd
}

func applyRun(opts *ApplyOptions) error {
	io := opts.IO
	req := api.PoolApplyRequest{Name: opts.Pool, Workers: opts.Workers}
	if opts.HasTask {
		ts, err := opts.Task.Spec(true)
		if err != nil {
			return err
		}
		req.Task = &ts
	}
	client, err := opts.Client()
	if err != nil {
		return err
	}
	if err := cli.CheckAsync(opts.Async, client); err != nil {
		return err
	}
	if req.Task != nil {
		if err := taskflags.Validate(opts.Ctx, client, io, *req.Task); err != nil {
			return err
		}
	}
	if !opts.Yes {
		name := opts.Pool
		if name == "" {
			name = "(new)"
		}
		if err := cli.ConfirmOrAbort(io, fmt.Sprintf("Applying config to pool '%s'. Proceed?", name)); err != nil {
			return err
		}
	}
	op, err := client.PoolApply(opts.Ctx, req)
	if err != nil {
		return err
	}
	if opts.Async {
		fmt.Fprintln(io.ErrOut, cli.Submitted(io, "jobs pool apply", op.ID))
		return nil
	}
	res, err := cli.Watch(cli.NewProgress(io), op)
	if err != nil {
		return err
	}
	verb := "updated"
	if res.Created {
		verb = "created"
	}
	fmt.Fprintf(io.ErrOut, "Pool %s %s (version %d): its workers are launched in the background.\n", res.Name, verb, res.Version)
	fmt.Fprintf(io.ErrOut, "  Submit jobs:   stix jobs launch --pool %s [--num-jobs N] JOB_YAML\n", res.Name)
	fmt.Fprintf(io.ErrOut, "  Status:        stix jobs pool status %s\n  Tear down:     stix jobs pool down %s\n", res.Name, res.Name)
	fmt.Fprintln(io.Out, res.Name) // alone on stdout, for scripts
	return nil
}
