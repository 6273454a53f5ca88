// Package down implements `stix jobs pool down`: delete pools with their workers.
package down

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
)

// DownOptions are the parsed flags and arguments of `stix jobs pool down`. Exactly one of Pools and All is set.
type DownOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)

	Pools []string
	All   bool
	Yes   bool
	Async bool
}

// NewCmdDown builds `stix jobs pool down`. runF, when not nil, replaces the real run (the test seam).
func NewCmdDown(f *cli.Factory, runF func(*DownOptions) error) *cobra.Command {
	opts := &DownOptions{IO: f.IOStreams, Client: f.ControllerClient}
	cmd := &cobra.Command{
		Use:   "down [flags] [POOL_NAME]...",
		Short: "Delete pools with all their workers",
		Long: "Delete pools: the managed jobs submitted to them that have not finished are cancelled, and their\n" +
			"workers' clusters torn down in the background.",
		Example: "  stix jobs pool down gpus\n  stix jobs pool down -a -y",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			opts.Pools = args
			if (len(args) > 0) == opts.All {
				return cli.FlagErrorf("give POOL_NAME... or -a/--all")
			}
			if runF != nil {
				return runF(opts)
			}
			return downRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.All, "all", "a", false, "Delete all pools")
	var purge bool
	fs.BoolVarP(&purge, "purge", "p", false, "Also delete pools in a failed state")
	cli.MarkUnbuilt(fs, "purge")
	cli.AddYes(fs, &opts.Yes)
	cli.AddAsync(fs, &opts.Async)
	return cmd
}

func downRun(opts *DownOptions) error {
	io := opts.IO
	client, err := opts.Client()
	if err != nil {
		return err
	}
	if err := cli.CheckAsync(opts.Async, client); err != nil {
		return err
	}
	if !opts.Yes {
		what := "all pools"
		if !opts.All {
			what = "pool(s) '" + strings.Join(opts.Pools, "', '") + "'"
		}
		if err := cli.ConfirmOrAbort(io, fmt.Sprintf("Terminating %s. Proceed?", what)); err != nil {
			return err
		}
	}
	op, err := client.PoolDown(opts.Ctx, api.PoolDownRequest{Names: opts.Pools, All: opts.All})
	if err != nil {
		return err
	}
	if opts.Async {
		fmt.Fprintln(io.ErrOut, cli.Submitted(io, "jobs pool down", op.ID))
		return nil
	}
	names, err := cli.Watch(cli.NewProgress(io), op)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		fmt.Fprintln(io.ErrOut, "No pool to terminate.")
		return nil
	}
	for _, n := range names {
		fmt.Fprintf(io.ErrOut, "Pool '%s' is scheduled to be terminated.\n", n)
	}
	return nil
}
