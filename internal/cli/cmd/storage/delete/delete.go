// Package delete implements `stix storage delete`: delete storage objects and their buckets.
package delete

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// DeleteOptions are the parsed flags and arguments of `stix storage delete`. Exactly one of Names and All is set.
type DeleteOptions struct {
	IO *cli.IOStreams

	// Names are storage names or glob patterns.
	Names []string
	All   bool
	Yes   bool
	Async bool
}

// NewCmdDelete builds `stix storage delete`. runF, when not nil, replaces the real run (the test seam).
func NewCmdDelete(f *cli.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:     "delete [flags] [NAME]...",
		Short:   "Delete storage objects",
		Example: "  stix storage delete imagenet cifar10\n  stix storage delete 'imagenet*'\n  stix storage delete -a",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			if (len(args) > 0) == opts.All {
				return cli.FlagErrorf("give exactly one of NAME... and -a/--all")
			}
			if runF != nil {
				return runF(opts)
			}
			return deleteRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.All, "all", "a", false, "Delete all storage objects")
	cli.AddYes(fs, &opts.Yes)
	cli.AddAsyncUnbuilt(fs, &opts.Async)
	return cmd
}

func deleteRun(opts *DeleteOptions) error {
	return cli.NotImplemented("storage delete")
}
