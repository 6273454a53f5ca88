// Package delete implements `stix volumes delete`: delete volumes.
package delete

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// DeleteOptions are the parsed flags and arguments of `stix volumes delete`.
type DeleteOptions struct {
	IO *cli.IOStreams

	// Names are volume names or glob patterns; All (-a) deletes every volume instead.
	Names []string
	All   bool
	Purge bool
	Yes   bool
	Async bool
}

// NewCmdDelete builds `stix volumes delete`. runF, when not nil, replaces the real run (the test seam).
func NewCmdDelete(f *cli.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:     "delete [flags] [NAME]...",
		Short:   "Delete volumes",
		Example: "  stix volumes delete pvc1 pvc2\n  stix volumes delete 'pvc*'\n  stix volumes delete -a",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			if (len(args) > 0) == opts.All {
				return cli.FlagErrorf("give either volume NAMEs or -a/--all")
			}
			if runF != nil {
				return runF(opts)
			}
			return deleteRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.All, "all", "a", false, "Delete all volumes")
	fs.BoolVarP(&opts.Purge, "purge", "p", false, "Forget the volume even if deleting it fails")
	cli.AddYes(fs, &opts.Yes)
	cli.AddAsync(fs, &opts.Async)
	return cmd
}

func deleteRun(opts *DeleteOptions) error {
	return cli.NotImplemented("volumes delete")
}
