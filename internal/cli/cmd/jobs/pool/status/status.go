// Package status implements `stix jobs pool status`: show pools and their workers.
package status

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// StatusOptions are the parsed flags and arguments of `stix jobs pool status`.
type StatusOptions struct {
	IO *cli.IOStreams

	Pools   []string
	Verbose bool
	All     bool // -a: every worker
}

// NewCmdStatus builds `stix jobs pool status`. runF, when not nil, replaces the real run (the test seam).
func NewCmdStatus(f *cli.Factory, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "status [flags] [POOL_NAME]...",
		Short: "Show pools and their workers",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Pools = args
			if runF != nil {
				return runF(opts)
			}
			return statusRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.Verbose, "verbose", "v", false, "Show all information in full")
	fs.BoolVarP(&opts.All, "all", "a", false, "Show all workers")
	return cmd
}

func statusRun(opts *StatusOptions) error {
	return cli.NotImplemented("jobs pool status")
}
