// Package down implements `stix ssh down`: clean up machines set up by `stix ssh up`.
package down

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/cmd/ssh/up"
)

// DownOptions are the parsed flags and arguments of `stix ssh down`.
type DownOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)

	// Infra is the node pool to clean up; empty cleans up every pool in the file.
	Infra string
	Async bool
}

// NewCmdDown builds `stix ssh down`. runF, when not nil, replaces the real run (the test seam).
func NewCmdDown(f *cli.Factory, runF func(*DownOptions) error) *cobra.Command {
	opts := &DownOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "down [flags]",
		Short: "Clean up SSH node pools set up with `stix ssh up`",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return downRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.Infra, "infra", "", "The node pool to clean up (default: all in the file)")
	fs.BoolVar(&opts.Async, "async", false, "Submit the request and return without waiting")
	_ = fs.MarkHidden("async")
	return cmd
}

func downRun(opts *DownOptions) error {
	client, err := opts.Client()
	if err != nil {
		return err
	}
	op, err := client.SSHDown(opts.Ctx, api.SSHPoolRequest{Pool: opts.Infra})
	if err != nil {
		return err
	}
	return up.Follow(opts.IO, op, func(*api.SSHHostResult) string { return "cleaned up" }, "cleaned up")
}
