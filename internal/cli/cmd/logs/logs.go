// Package logs implements `stix logs`: stream, download or check the status of a job on a cluster.
package logs

import (
	"context"
	"errors"
	"fmt"
	"github.com/spf13/cobra"
	"github.com/stix-run/stix/api"

	"github.com/stix-run/stix/internal/cli"
)

// LogsOptions are the parsed flags and arguments of `stix logs`.
type LogsOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)

	Cluster string
	// JobIDs are the jobs to act on; empty means the latest job. More than one only with SyncDown.
	JobIDs []int
	// Status prints the job's state and exits with its code instead of showing logs: 0 succeeded, 100 failed,
	// 101 not finished, 102 not found, 103 cancelled (cli.ExitJob*).
	Status bool
	// SyncDown (-s) downloads the logs under ~/sky_logs instead of streaming them.
	SyncDown bool
	Follow   bool // --follow (default) / --no-follow
	// Tail is --tail N: only the last N lines; 0 prints everything.
	Tail int
	// Provision streams the cluster's provisioning log instead of a job's; Worker (-w, >= 1) picks a worker's.
	Provision bool
	Worker    *int
}

// NewCmdLogs builds `stix logs`. runF, when not nil, replaces the real run (the test seam).
func NewCmdLogs(f *cli.Factory, runF func(*LogsOptions) error) *cobra.Command {
	opts := &LogsOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "logs [flags] CLUSTER [JOB_ID]...",
		Short: "Tail, download or check the status of a job's logs",
		Long: "Tail the logs of a job on CLUSTER (the latest job when JOB_ID is not given).\n\n" +
			"With --status, print the job's state and exit 0 if it succeeded, 100 if it failed, 101 if it has\n" +
			"not finished, 102 if there is no such job and 103 if it was cancelled. With -s/--sync-down, download\n" +
			"the logs of one or more jobs to ~/sky_logs. A job that fails makes this command exit non-zero.",
		Example: "  stix logs dev\n  stix logs dev 3 --no-follow --tail 100\n  stix logs dev 3 --status\n  stix logs -s dev 1 2",
		Args:    cli.MinArgs(1, "CLUSTER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Cluster = args[0]
			var err error
			if opts.JobIDs, err = cli.ParseInts(args[1:], "job ID"); err != nil {
				return err
			}
			switch {
			case opts.Worker != nil && !opts.Provision:
				return cli.FlagErrorf("--worker can only be used with --provision")
			case opts.Worker != nil && *opts.Worker < 1:
				return cli.FlagErrorf("--worker must be 1 or more, got %d", *opts.Worker)
			case opts.Provision && (opts.SyncDown || opts.Status || len(opts.JobIDs) > 0):
				return cli.FlagErrorf("--provision cannot be combined with --sync-down, --status or job IDs")
			case opts.SyncDown && opts.Status:
				return cli.FlagErrorf("use only one of --sync-down and --status")
			case len(opts.JobIDs) > 1 && !opts.SyncDown:
				return cli.FlagErrorf("cannot stream the logs of several jobs (%v): pass -s/--sync-down to download them", opts.JobIDs)
			case opts.Tail < 0:
				return cli.FlagErrorf("--tail must be 0 or more, got %d", opts.Tail)
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return logsRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&opts.Status, "status", false, "Print the job's state and exit with its code (0, 100-103) instead of showing logs")
	fs.BoolVarP(&opts.SyncDown, "sync-down", "s", false, "Download the logs of the jobs to ~/sky_logs (one file per node)")
	cli.AddNegatableBool(fs, &opts.Follow, "follow", true, "Follow the logs until the job ends", "Print the logs so far and exit")
	fs.IntVar(&opts.Tail, "tail", 0, "Show only the last N lines (0: all)")
	fs.BoolVar(&opts.Provision, "provision", false, "Stream the cluster's provisioning log instead")
	cli.AddIntPtr(fs, &opts.Worker, "worker", "w", "With --provision: the worker whose log to stream (1 or more)")
	return cmd
}

func logsRun(opts *LogsOptions) error {
	if opts.SyncDown || opts.Provision {
		return cli.NotImplemented("logs --sync-down/--provision")
	}
	client, err := opts.Client()
	if err != nil {
		return err
	}
	id := 0
	if len(opts.JobIDs) > 0 {
		id = opts.JobIDs[0]
	}
	if opts.Status {
		job, err := client.Job(opts.Ctx, opts.Cluster, id)
		var nf *api.JobNotFoundError
		if errors.As(err, &nf) {
			fmt.Fprintln(opts.IO.ErrOut, nf.Error())
			return cli.SilentExit(cli.ExitJobNotFound)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.Out, "Job %d: %s\n", job.ID, job.Status)
		return cli.SilentExit(cli.JobExitCode(job.Status))
	}
	job, err := client.Logs(opts.Ctx, opts.Cluster, id, api.LogsOptions{Follow: opts.Follow, Tail: opts.Tail}, opts.IO.Out)
	var nf *api.JobNotFoundError
	if errors.As(err, &nf) {
		fmt.Fprintln(opts.IO.ErrOut, nf.Error())
		return cli.SilentExit(cli.ExitJobNotFound)
	}
	if err != nil {
		return err
	}
	if opts.Follow {
		return cli.SilentExit(cli.JobExitCode(job.Status))
	}
	return nil
}
