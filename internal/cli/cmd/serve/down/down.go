// Package down implements `stix serve down`: tear services (or one replica) down.
package down

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// DownOptions are the parsed flags and arguments of `stix serve down`. Exactly one of ServiceNames and All is set.
type DownOptions struct {
	IO *cli.IOStreams

	// ServiceNames are names or glob patterns.
	ServiceNames []string
	All          bool
	Purge        bool // -p: also tear down services (or the replica) in a failed state
	Yes          bool
	// ReplicaID, when not nil, tears down only that replica of the one service named.
	ReplicaID *int
	Async     bool
}

// NewCmdDown builds `stix serve down`. runF, when not nil, replaces the real run (the test seam).
func NewCmdDown(f *cli.Factory, runF func(*DownOptions) error) *cobra.Command {
	opts := &DownOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:     "down [flags] [SERVICE_NAME]...",
		Short:   "Tear services down with all their replicas",
		Example: "  stix serve down llm\n  stix serve down -a\n  stix serve down llm --replica-id 1 --purge",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ServiceNames = args
			if (len(args) > 0) == opts.All {
				return cli.FlagErrorf("give exactly one of SERVICE_NAME... and -a/--all")
			}
			if opts.ReplicaID != nil && len(args) != 1 {
				return cli.FlagErrorf("--replica-id needs exactly one SERVICE_NAME")
			}
			if runF != nil {
				return runF(opts)
			}
			return downRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.All, "all", "a", false, "Tear down all services")
	fs.BoolVarP(&opts.Purge, "purge", "p", false, "Also tear down services in a failed state")
	cli.AddYes(fs, &opts.Yes)
	cli.AddIntPtr(fs, &opts.ReplicaID, "replica-id", "", "Tear down only this replica of the service")
	cli.AddAsyncUnbuilt(fs, &opts.Async)
	return cmd
}

func downRun(opts *DownOptions) error {
	return cli.NotImplemented("serve down")
}
