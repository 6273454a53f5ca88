// Package pool builds `stix jobs pool`: pools of workers that managed jobs are submitted to (experimental in
// SkyPilot). No verb is built yet.
package pool

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/cmd/serve/update"
	"github.com/stix-run/stix/internal/cli/taskflags"
)

// NewCmdPool builds `stix jobs pool` and its verbs.
func NewCmdPool() *cobra.Command {
	apply := cli.NotBuilt(&cobra.Command{
		Use:   "apply [flags] [POOL_YAML]",
		Short: "Create or update a pool from a YAML, or change its number of workers",
		Example: "  stix jobs pool apply -p gpus pool.yaml\n" +
			"  stix jobs pool apply -p gpus --workers 5",
		Args: cli.MaxArgs(1, "POOL_YAML"),
	}, func(fs *pflag.FlagSet) {
		fs.StringP("pool", "p", "", "Name of the pool, unique; generated when not given")
		cli.AddChoice(fs, new(string), "mode", "", "rolling", update.Modes, "How to replace the workers of a running pool")
		cli.AddIntPtr(fs, new(*int), "workers", "", "Number of workers in the pool")
		cli.AddYes(fs, new(bool))
		cli.AddAsyncUnbuilt(fs, new(bool))
	})
	taskflags.Add(apply)
	return cli.NewGroup("pool", "Pools of workers for managed jobs", func() []*cobra.Command {
		return []*cobra.Command{
			apply,
			cli.NotBuilt(&cobra.Command{Use: "status [flags] [POOL_NAME]...", Short: "Show pools and their workers"},
				func(fs *pflag.FlagSet) {
					fs.BoolP("verbose", "v", false, "Show all information in full")
					fs.BoolP("all", "a", false, "Show all workers")
				}),
			cli.NotBuilt(&cobra.Command{Use: "down [flags] [POOL_NAME]...", Short: "Delete pools with all their workers"},
				func(fs *pflag.FlagSet) {
					fs.BoolP("all", "a", false, "Delete all pools")
					fs.BoolP("purge", "p", false, "Also delete pools in a failed state")
					cli.AddYes(fs, new(bool))
					cli.AddAsyncUnbuilt(fs, new(bool))
				}),
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
