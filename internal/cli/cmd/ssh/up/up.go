// Package up implements `stix ssh up`: prepare the machines of SSH node pools for tasks.
package up

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
)

// UpOptions are the parsed flags and arguments of `stix ssh up`.
type UpOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)

	// Infra is the node pool to set up; empty sets up every pool in the file.
	Infra string
	// File is the node pools file (-f); empty means ~/.stix/ssh_node_pools.yaml.
	File  string
	Async bool
}

// NewCmdUp builds `stix ssh up`. runF, when not nil, replaces the real run (the test seam).
func NewCmdUp(f *cli.Factory, runF func(*UpOptions) error) *cobra.Command {
	opts := &UpOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "up [flags]",
		Short: "Set up SSH node pools so tasks can run on them",
		Long:  "Set up the machines of the SSH node pools in the node pools file (all pools, or the one given by\n--infra) so that tasks can run on them as infra ssh/<pool>.",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return upRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.Infra, "infra", "", "The node pool to set up (default: all in the file)")
	fs.StringVarP(&opts.File, "file", "f", "", "The node pools file (default ~/.stix/ssh_node_pools.yaml)")
	fs.BoolVar(&opts.Async, "async", false, "Submit the request and return without waiting")
	_ = fs.MarkHidden("async")
	return cmd
}

func upRun(opts *UpOptions) error {
	client, err := opts.Client()
	if err != nil {
		return err
	}
	op, err := client.SSHUp(opts.Ctx, api.SSHPoolRequest{Pool: opts.Infra, File: opts.File})
	if err != nil {
		return err
	}
	return Follow(opts.IO, op, func(h *api.SSHHostResult) string { return h.Shape }, "set up")
}

// Follow prints a ✔ line per host of op as it succeeds (done names what), then Report's lines. `ssh down`
// shares it.
func Follow(io *cli.IOStreams, op *api.Operation[[]api.SSHHostResult], done func(*api.SSHHostResult) string, did string) error {
	for e := range op.Events() {
		if h := e.Host; h != nil && h.Error == "" {
			fmt.Fprintf(io.Out, "✔ %s/%s: %s\n", h.Pool, h.Host, done(h))
		}
	}
	results, err := op.Wait()
	if err != nil {
		return err
	}
	return Report(io, results, did)
}

// Report prints a ✘ line per failed host, in pool order, and a summary; it returns the exit error when any
// host failed.
func Report(io *cli.IOStreams, results []api.SSHHostResult, did string) error {
	failed := 0
	for _, r := range results {
		if r.Error != "" {
			failed++
			fmt.Fprintf(io.Out, "✘ %s/%s: %s\n", r.Pool, r.Host, r.Error)
		}
	}
	if failed > 0 {
		fmt.Fprintf(io.ErrOut, "%d of %d host(s) could not be %s\n", failed, len(results), did)
		return cli.SilentExit(cli.ExitFailure)
	}
	fmt.Fprintf(io.ErrOut, "%d host(s) %s\n", len(results), did)
	return nil
}
