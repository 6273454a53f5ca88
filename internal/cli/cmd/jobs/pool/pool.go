// Package pool builds `stix jobs pool`: pools of workers that managed jobs are submitted to with --pool
// (SkyPilot's pools). apply, status and down are built; logs is not yet.
package pool

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/cmd/jobs/pool/apply"
	"github.com/stix-run/stix/internal/cli/cmd/jobs/pool/down"
	"github.com/stix-run/stix/internal/cli/cmd/jobs/pool/status"
)

// NewCmdPool builds `stix jobs pool` and its verbs.
func NewCmdPool(f *cli.Factory) *cobra.Command {
	return cli.NewGroup("pool", "Pools of workers for managed jobs", func() []*cobra.Command {
		return []*cobra.Command{
			apply.NewCmdApply(f, nil),
			status.NewCmdStatus(f, nil),
			down.NewCmdDown(f, nil),
			cli.NotBuilt(&cobra.Command{
				Use:     "logs [flags] POOL_NAME [WORKER_ID]...",
				Short:   "Tail or download the logs of a pool",
				Example: "  stix jobs pool logs --controller gpus\n  stix jobs pool logs gpus 1\n  stix jobs pool logs -s gpus",
				Args:    cli.MinArgs(1, "POOL_NAME"),
			}, func(fs *pflag.FlagSet) {
				fs.Bool("controller", false, "The pool controller's logs")
				fs.BoolP("sync-down", "s", false, "Download the logs (all parts unless narrowed) instead of tailing")
				cli.AddNegatableBool(fs, new(bool), "follow", true, "Follow the logs", "Print the logs so far and exit")
				cli.AddIntPtr(fs, new(*int), "tail", "", "Show only the last N lines")
			}),
		}
	})
}
