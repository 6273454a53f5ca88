// Package ls implements `stix volumes ls`: list the volumes stix manages.
package ls

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// LsOptions are the parsed flags of `stix volumes ls`.
type LsOptions struct {
	IO *cli.IOStreams

	Verbose bool
}

// NewCmdLs builds `stix volumes ls`. runF, when not nil, replaces the real run (the test seam).
func NewCmdLs(f *cli.Factory, runF func(*LsOptions) error) *cobra.Command {
	opts := &LsOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "ls [flags]",
		Short: "List volumes managed by stix",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return lsRun(opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Verbose, "verbose", "v", false, "Show all information in full")
	return cmd
}

func lsRun(opts *LsOptions) error {
	return cli.NotImplemented("volumes ls")
}
