// Package ls implements `stix storage ls`: list the storage objects stix manages.
package ls

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// LsOptions are the parsed flags and arguments of `stix storage ls`.
type LsOptions struct {
	IO  *cli.IOStreams
	Now func() time.Time

	Verbose bool
	Output  cli.OutputFormat
}

// NewCmdLs builds `stix storage ls`. runF, when not nil, replaces the real run (the test seam).
func NewCmdLs(f *cli.Factory, runF func(*LsOptions) error) *cobra.Command {
	opts := &LsOptions{IO: f.IOStreams, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "ls [flags]",
		Short: "List storage objects managed by stix",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return lsRun(opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Verbose, "verbose", "v", false, "Show all information in full")
	cli.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

func lsRun(opts *LsOptions) error {
	return cli.NotImplemented("storage ls")
}
