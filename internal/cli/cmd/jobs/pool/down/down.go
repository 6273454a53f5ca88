// Package down implements `stix jobs pool down`: delete pools and their workers.
package down

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// DownOptions are the parsed flags and arguments of `stix jobs pool down`.
type DownOptions struct {
	IO *cli.IOStreams

	// Pools are names or glob patterns; All (-a) deletes every pool instead.
	Pools []string
	All   bool
	Purge bool
	Yes   bool
	Async bool
}

// NewCmdDown builds `stix jobs pool down`. runF, when not nil, replaces the real run (the test seam).
func NewCmdDown(f *cli.Factory, runF func(*DownOptions) error) *cobra.Command {
	opts := &DownOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "down [flags] [POOL_NAME]...",
		Short: "Delete pools with all their workers",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Pools = args
			if (len(args) > 0) == opts.All {
				return cli.FlagErrorf("give either POOL_NAMEs or -a/--all")
			}
			if runF != nil {
				return runF(opts)
			}
			return downRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.All, "all", "a", false, "Delete all pools")
	fs.BoolVarP(&opts.Purge, "purge", "p", false, "Also delete pools in a failed state")
	cli.AddYes(fs, &opts.Yes)
	cli.AddAsync(fs, &opts.Async)
	return cmd
}

func downRun(opts *DownOptions) error {
	return cli.NotImplemented("jobs pool down")
}
