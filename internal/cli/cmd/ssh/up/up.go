// Package up implements `stix ssh up`: prepare the machines of SSH node pools for tasks.
package up

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// UpOptions are the parsed flags and arguments of `stix ssh up`.
type UpOptions struct {
	IO *cli.IOStreams

	// Infra is the node pool to set up; empty sets up every pool in the file.
	Infra string
	// File is the node pools file (-f); empty means ~/.stix/ssh_node_pools.yaml.
	File  string
	Async bool
}

// NewCmdUp builds `stix ssh up`. runF, when not nil, replaces the real run (the test seam).
func NewCmdUp(f *cli.Factory, runF func(*UpOptions) error) *cobra.Command {
	opts := &UpOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "up [flags]",
		Short: "Set up SSH node pools so tasks can run on them",
		Long:  "Set up the machines of the SSH node pools in the node pools file (all pools, or the one given by\n--infra) so that tasks can run on them as infra ssh/<pool>.",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
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
	return cli.NotImplemented("ssh up")
}
