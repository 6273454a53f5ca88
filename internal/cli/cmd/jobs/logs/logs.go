// Package logs implements `stix jobs logs`: stream or download the logs of a managed job.
package logs

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// LogsOptions are the parsed flags and arguments of `stix jobs logs`.
type LogsOptions struct {
	IO *cli.IOStreams

	// JobID is the job; nil with an empty Name means the latest job.
	JobID *int
	Name  string // -n: the job with this name
	// Follow is --follow (default) / --no-follow.
	Follow bool
	// Controller shows the controller's log of the job (provisioning, preemptions, recoveries).
	Controller bool
	Refresh    bool // -r: restart a stopped jobs controller first
	SyncDown   bool // -s: download the logs instead of streaming them
}

// NewCmdLogs builds `stix jobs logs`. runF, when not nil, replaces the real run (the test seam).
func NewCmdLogs(f *cli.Factory, runF func(*LogsOptions) error) *cobra.Command {
	opts := &LogsOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:     "logs [flags] [JOB_ID]",
		Short:   "Tail or download the logs of a managed job",
		Example: "  stix jobs logs 3\n  stix jobs logs -n train --no-follow\n  stix jobs logs --controller 3",
		Args:    cli.MaxArgs(1, "JOB_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				ids, err := cli.ParseInts(args, "job ID")
				if err != nil {
					return err
				}
				opts.JobID = &ids[0]
			}
			if opts.JobID != nil && opts.Name != "" {
				return cli.FlagErrorf("give only one of JOB_ID and -n/--name")
			}
			if runF != nil {
				return runF(opts)
			}
			return logsRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&opts.Name, "name", "n", "", "The managed job's name")
	cli.AddNegatableBool(fs, &opts.Follow, "follow", true, "Follow the logs until the job ends", "Print the logs so far and exit")
	fs.BoolVar(&opts.Controller, "controller", false, "Show the controller's log of the job (launches, preemptions, recoveries)")
	fs.BoolVarP(&opts.Refresh, "refresh", "r", false, "Restart the jobs controller if it is stopped")
	fs.BoolVarP(&opts.SyncDown, "sync-down", "s", false, "Download the logs instead of streaming them")
	return cmd
}

func logsRun(opts *LogsOptions) error {
	return cli.NotImplemented("jobs logs")
}
