// Package down implements `stix local down`: delete the local Kubernetes cluster.
package down

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// DownOptions are the parsed flags of `stix local down`.
type DownOptions struct {
	IO *cli.IOStreams

	Name  string
	Async bool
}

// NewCmdDown builds `stix local down`. runF, when not nil, replaces the real run (the test seam).
func NewCmdDown(f *cli.Factory, runF func(*DownOptions) error) *cobra.Command {
	opts := &DownOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "down [flags]",
		Short: "Delete the local Kubernetes cluster",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return downRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.Name, "name", "", "Name of the cluster to delete (default skypilot)")
	cli.AddAsync(fs, &opts.Async)
	return cmd
}

func downRun(opts *DownOptions) error {
	return cli.NotImplemented("local down")
}
