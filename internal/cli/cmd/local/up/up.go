// Package up implements `stix local up`: create a local Kubernetes cluster.
package up

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// UpOptions are the parsed flags of `stix local up`.
type UpOptions struct {
	IO *cli.IOStreams

	GPUs bool // --gpus (default) / --no-gpus
	Name string
	// PortStart is --port-start, a multiple of 100; nil picks a random range.
	PortStart *int
	Async     bool
}

// NewCmdUp builds `stix local up`. runF, when not nil, replaces the real run (the test seam).
func NewCmdUp(f *cli.Factory, runF func(*UpOptions) error) *cobra.Command {
	opts := &UpOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "up [flags]",
		Short: "Create a local Kubernetes cluster",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.PortStart != nil && *opts.PortStart%100 != 0 {
				return cli.FlagErrorf("--port-start must be a multiple of 100, got %d", *opts.PortStart)
			}
			if runF != nil {
				return runF(opts)
			}
			return upRun(opts)
		},
	}
	fs := cmd.Flags()
	cli.AddNegatableBool(fs, &opts.GPUs, "gpus", true, "Give the cluster the GPUs found on this machine", "Create the cluster without GPU support")
	fs.StringVar(&opts.Name, "name", "", "Name of the cluster (default skypilot)")
	cli.AddIntPtr(fs, &opts.PortStart, "port-start", "", "First port of the cluster's port range, a multiple of 100 (default: random)")
	cli.AddAsync(fs, &opts.Async)
	return cmd
}

func upRun(opts *UpOptions) error {
	return cli.NotImplemented("local up")
}
