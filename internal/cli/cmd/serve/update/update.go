// Package update implements `stix serve update`: roll a service to a new service YAML.
package update

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"

	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/taskflags"
)

// Modes are the update modes of --mode: rolling replaces replicas one by one with traffic on both versions;
// blue_green switches traffic once enough new replicas are ready.
var Modes = []string{"rolling", "blue_green"}

// UpdateOptions are the parsed flags and arguments of `stix serve update`.
type UpdateOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)

	ServiceName string
	// Task's entrypoint is always a YAML (with a service section) and carries the task flags.
	Task  taskflags.Task
	Mode  string // rolling (default) or blue_green
	Yes   bool
	Async bool
}

// NewCmdUpdate builds `stix serve update`. runF, when not nil, replaces the real run (the test seam).
func NewCmdUpdate(f *cli.Factory, runF func(*UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{IO: f.IOStreams, Client: f.ControllerClient}
	var task *taskflags.Flags
	cmd := &cobra.Command{
		Use:   "update [flags] SERVICE_NAME SERVICE_YAML",
		Short: "Update a service to a new service YAML",
		Long: "Update a running service. Replicas are kept when only the service section changed and there are no\n" +
			"file mounts; otherwise new replicas replace the old ones, rolling (default) or blue-green.",
		Example: "  stix serve update llm new-service.yaml\n  stix serve update --mode blue_green llm new-service.yaml",
		Args:    cli.MinArgs(2, "SERVICE_NAME and SERVICE_YAML"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			opts.ServiceName = args[0]
			var err error
			if opts.Task, err = task.Resolve(cmd, f.IOStreams, f.Getenv, args[1:]); err != nil {
				return err
			}
			if !opts.Task.Entrypoint.IsYAML() {
				return cli.FlagErrorf("SERVICE_YAML must be a YAML file (.yaml or .yml), got %q", opts.Task.Entrypoint.Command)
			}
			if runF != nil {
				return runF(opts)
			}
			return updateRun(opts)
		},
	}
	fs := cmd.Flags()
	cli.AddChoice(fs, &opts.Mode, "mode", "", "rolling", Modes, "How to replace the replicas")
	cli.AddYes(fs, &opts.Yes)
	cli.AddAsync(fs, &opts.Async)
	task = taskflags.Add(cmd)
	return cmd
}

func updateRun(opts *UpdateOptions) error {
	ts, err := opts.Task.Spec(true)
	if err != nil {
		return err
	}
	io := opts.IO
	client, err := opts.Client()
	if err != nil {
		return err
	}
	if err := cli.CheckAsync(opts.Async, client); err != nil {
		return err
	}
	if !opts.Yes {
		if err := cli.ConfirmOrAbort(io, fmt.Sprintf("Updating service %s (%s). Proceed?", opts.ServiceName, opts.Mode)); err != nil {
			return err
		}
	}
	op, err := client.ServeUpdate(opts.Ctx, api.ServeUpdateRequest{Name: opts.ServiceName, Task: ts, Mode: opts.Mode})
	if err != nil {
		return err
	}
	if opts.Async {
		fmt.Fprintln(io.ErrOut, cli.Submitted(io, "serve update", op.ID))
		return nil
	}
	res, err := cli.Watch(cli.NewProgress(io), op)
	if err != nil {
		return err
	}
	fmt.Fprintf(io.ErrOut, "Service %s is updating to version %d: see `stix serve status %s`.\n", res.Name, res.Version, res.Name)
	return nil
}
