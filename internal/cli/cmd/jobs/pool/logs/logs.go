// Package logs implements `stix jobs pool logs`: tail a pool's controller log or a worker's setup output.
package logs

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
)

// LogsOptions are the parsed flags and arguments of `stix jobs pool logs`: exactly one of Controller and one
// worker.
type LogsOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)

	Pool       string
	WorkerID   int
	Controller bool
	Follow     bool // --follow (default) / --no-follow; --tail turns following off
	Tail       *int
}

// NewCmdLogs builds `stix jobs pool logs`. runF, when not nil, replaces the real run (the test seam).
func NewCmdLogs(f *cli.Factory, runF func(*LogsOptions) error) *cobra.Command {
	opts := &LogsOptions{IO: f.IOStreams, Client: f.ControllerClient}
	cmd := &cobra.Command{
		Use:   "logs [flags] POOL_NAME [WORKER_ID]...",
		Short: "Tail or download the logs of a pool",
		Long: "Tail the log of a pool's controller (--controller: workers launched, replaced, removed) or the\n" +
			"setup output of one of its workers (WORKER_ID, as `stix jobs pool status` lists them). A job's own\n" +
			"output is `stix jobs logs JOB_ID`.",
		Example: "  stix jobs pool logs --controller gpus\n  stix jobs pool logs gpus 1",
		Args:    cli.MinArgs(1, "POOL_NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			opts.Pool = args[0]
			ids, err := cli.ParseInts(args[1:], "worker ID")
			if err != nil {
				return err
			}
			if opts.Controller == (len(ids) == 1) || len(ids) > 1 {
				return cli.FlagErrorf("name what to tail: --controller or one WORKER_ID")
			}
			if len(ids) == 1 {
				opts.WorkerID = ids[0]
			}
			if opts.Tail != nil {
				if *opts.Tail < 0 {
					return cli.FlagErrorf("--tail must be 0 or more, got %d", *opts.Tail)
				}
				opts.Follow = false
			}
			if runF != nil {
				return runF(opts)
			}
			return logsRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&opts.Controller, "controller", false, "The pool controller's logs")
	var syncDown bool
	fs.BoolVarP(&syncDown, "sync-down", "s", false, "Download the logs (all parts unless narrowed) instead of tailing")
	cli.MarkUnbuilt(fs, "sync-down")
	cli.AddNegatableBool(fs, &opts.Follow, "follow", true, "Follow the logs", "Print the logs so far and exit")
	cli.AddIntPtr(fs, &opts.Tail, "tail", "", "Show only the last N lines (disables --follow)")
	return cmd
}

func logsRun(opts *LogsOptions) error {
	client, err := opts.Client()
	if err != nil {
		return err
	}
	lo := api.PoolLogsOptions{Controller: opts.Controller, WorkerID: opts.WorkerID, Follow: opts.Follow}
	if opts.Tail != nil {
		lo.Tail = *opts.Tail
	}
	return client.PoolLogs(opts.Ctx, opts.Pool, lo, opts.IO.Out)
}
