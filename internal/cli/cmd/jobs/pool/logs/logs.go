// Package logs implements `stix jobs pool logs`: tail or download the logs of a pool's controller and workers.
package logs

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// LogsOptions are the parsed flags and arguments of `stix jobs pool logs`.
type LogsOptions struct {
	IO *cli.IOStreams

	Pool       string
	WorkerIDs  []int
	Controller bool
	SyncDown   bool
	Follow     bool
	// Tail is --tail N; nil prints everything.
	Tail *int
}

// NewCmdLogs builds `stix jobs pool logs`. runF, when not nil, replaces the real run (the test seam).
func NewCmdLogs(f *cli.Factory, runF func(*LogsOptions) error) *cobra.Command {
	opts := &LogsOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:     "logs [flags] POOL_NAME [WORKER_ID]...",
		Short:   "Tail or download the logs of a pool",
		Example: "  stix jobs pool logs --controller gpus\n  stix jobs pool logs gpus 1\n  stix jobs pool logs -s gpus",
		Args:    cli.MinArgs(1, "POOL_NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Pool = args[0]
			var err error
			if opts.WorkerIDs, err = cli.ParseInts(args[1:], "worker ID"); err != nil {
				return err
			}
			if opts.Tail != nil && *opts.Tail < 0 {
				return cli.FlagErrorf("--tail must be 0 or more, got %d", *opts.Tail)
			}
			if runF != nil {
				return runF(opts)
			}
			return logsRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&opts.Controller, "controller", false, "The pool controller's logs")
	fs.BoolVarP(&opts.SyncDown, "sync-down", "s", false, "Download the logs (all parts unless narrowed) instead of tailing")
	cli.AddNegatableBool(fs, &opts.Follow, "follow", true, "Follow the logs", "Print the logs so far and exit")
	cli.AddIntPtr(fs, &opts.Tail, "tail", "", "Show only the last N lines")
	return cmd
}

func logsRun(opts *LogsOptions) error {
	return cli.NotImplemented("jobs pool logs")
}
