// Package logs implements `stix jobs logs`: stream or download the logs of a managed job, or check its status.
package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/logsync"
)

// LogsOptions are the parsed flags and arguments of `stix jobs logs`.
type LogsOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)

	// JobID is the job; nil with an empty Name means the latest job.
	JobID *int
	Name  string // -n: the job with this name
	// Follow is --follow (default) / --no-follow.
	Follow bool
	// Controller shows the controller's log of the job (provisioning, preemptions, recoveries).
	Controller bool
	// Status prints the job's state and exits with its code instead of showing logs: 0 succeeded, 100 failed,
	// 101 not finished, 102 not found, 103 cancelled (cli.ExitJob*), as `stix logs --status`.
	Status   bool
	Refresh  bool // -r: restart a stopped jobs controller first (the controller lives in the API server: nothing to do)
	SyncDown bool // -s: download the logs instead of streaming them
	// LocalDir is where --sync-down writes (logsync.LocalDir, ~/sky_logs, when empty).
	LocalDir string
}

// NewCmdLogs builds `stix jobs logs`. runF, when not nil, replaces the real run (the test seam).
func NewCmdLogs(f *cli.Factory, runF func(*LogsOptions) error) *cobra.Command {
	opts := &LogsOptions{IO: f.IOStreams, Client: f.ControllerClient}
	cmd := &cobra.Command{
		Use:   "logs [flags] [JOB_ID]",
		Short: "Tail or download the logs of a managed job, or check its status",
		Long: "Tail the logs of a managed job (your latest when JOB_ID and -n are not given) until it ends; the exit\n" +
			"code is then the job's. With --controller, the controller's log of the job: its launches, losses and\n" +
			"recoveries. With --status, print the job's state and exit 0 if it succeeded, 100 if it failed, 101 if\n" +
			"it has not finished, 102 if there is no such job and 103 if it was cancelled. With -s/--sync-down,\n" +
			"download the job's output (or, with --controller, its controller log) to\n" +
			"~/sky_logs/managed_jobs/job-id-ID/run.log (controller.log) instead.",
		Example: "  stix jobs logs 3\n  stix jobs logs -n train --no-follow\n  stix jobs logs --controller 3\n  stix jobs logs 3 --status",
		Args:    cli.MaxArgs(1, "JOB_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				ids, err := cli.ParseInts(args, "job ID")
				if err != nil {
					return err
				}
				opts.JobID = &ids[0]
			}
			switch {
			case opts.JobID != nil && opts.Name != "":
				return cli.FlagErrorf("give only one of JOB_ID and -n/--name")
			case opts.Status && (opts.Controller || opts.SyncDown):
				return cli.FlagErrorf("--status cannot be combined with --controller or --sync-down")
			}
			opts.Ctx = cmd.Context()
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
	fs.BoolVar(&opts.Status, "status", false, "Print the job's state and exit with its code (0, 100-103) instead of showing logs")
	fs.BoolVarP(&opts.Refresh, "refresh", "r", false, "Restart the jobs controller if it is stopped (it runs in the API server: always up)")
	fs.BoolVarP(&opts.SyncDown, "sync-down", "s", false, "Download the logs instead of streaming them")
	return cmd
}

func logsRun(opts *LogsOptions) error {
	client, err := opts.Client()
	if err != nil {
		return err
	}
	id, err := jobID(opts, client)
	switch {
	case err != nil:
	case opts.Status:
		err = printStatus(opts, client, id)
	case opts.SyncDown:
		err = syncDown(opts, client, id)
	default:
		err = streamLogs(opts, client, id)
	}
	var nf *api.ManagedJobNotFoundError
	if errors.As(err, &nf) {
		fmt.Fprintln(opts.IO.ErrOut, nf.Error())
		return cli.SilentExit(cli.ExitJobNotFound)
	}
	return err
}

// streamLogs copies the job's output (or its controller's log) to stdout; following the job's output, the
// exit code is then the job's.
func streamLogs(opts *LogsOptions, client api.Client, id int64) error {
	tasks, err := client.JobsLogs(opts.Ctx, id, api.JobsLogsOptions{Follow: opts.Follow, Controller: opts.Controller}, opts.IO.Out)
	if err != nil || !opts.Follow || opts.Controller {
		return err
	}
	status, _ := cli.ManagedJobState(tasks)
	return exitWith(status)
}

// syncDown downloads the job's output (or its controller log) to ~/sky_logs/managed_jobs/job-id-ID/ and
// prints the file's path, as SkyPilot's `jobs logs --sync-down` does.
func syncDown(opts *LogsOptions, client api.Client, id int64) error {
	if id == 0 { // the caller's latest job: named by its ID
		rows, err := client.JobsQueue(opts.Ctx, api.JobsQueueOptions{Limit: 1})
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return &api.ManagedJobNotFoundError{}
		}
		id = rows[0].ID
	}
	base := opts.LocalDir
	if base == "" {
		var err error
		if base, err = logsync.LocalDir(); err != nil {
			return err
		}
	}
	file, what := "run.log", ""
	if opts.Controller {
		file, what = "controller.log", " (controller)"
	}
	var notFound error
	paths, err := logsync.Download(opts.Ctx, filepath.Join(base, "managed_jobs", fmt.Sprintf("job-id-%d", id)), []logsync.Part{{
		File: file,
		Copy: func(ctx context.Context, w io.Writer) error {
			_, err := client.JobsLogs(ctx, id, api.JobsLogsOptions{Controller: opts.Controller}, w)
			var nf *api.ManagedJobNotFoundError
			if errors.As(err, &nf) {
				notFound = err
			}
			return err
		},
	}})
	if notFound != nil {
		return notFound
	}
	for _, p := range paths {
		fmt.Fprintf(opts.IO.ErrOut, "Job %d logs%s:\n", id, what)
		fmt.Fprintln(opts.IO.Out, p)
	}
	return err
}

// printStatus prints the job's state ("Managed job 3: RUNNING") and exits with its code.
func printStatus(opts *LogsOptions, client api.Client, id int64) error {
	q := api.JobsQueueOptions{Limit: 1}
	if id != 0 {
		q.IDs = []int64{id}
	}
	rows, err := client.JobsQueue(opts.Ctx, q)
	if err != nil {
		return err
	}
	if id == 0 && len(rows) > 0 {
		id = rows[0].ID
	}
	rows = slices.DeleteFunc(rows, func(r api.ManagedJob) bool { return r.ID != id })
	if len(rows) == 0 {
		return &api.ManagedJobNotFoundError{ID: id}
	}
	status, _ := cli.ManagedJobState(rows)
	fmt.Fprintf(opts.IO.Out, "Managed job %d: %s\n", id, status)
	return exitWith(status)
}

func exitWith(status api.ManagedJobStatus) error {
	if code := cli.ManagedJobExitCode(status); code != cli.ExitOK {
		return cli.SilentExit(code)
	}
	return nil
}

// jobID is the job the command line names: JOB_ID, the job called -n NAME (its unfinished one, else its latest),
// or 0 for the caller's latest job.
func jobID(opts *LogsOptions, client api.Client) (int64, error) {
	switch {
	case opts.JobID != nil:
		return int64(*opts.JobID), nil
	case opts.Name == "":
		return 0, nil
	}
	rows, err := client.JobsQueue(opts.Ctx, api.JobsQueueOptions{})
	if err != nil {
		return 0, err
	}
	var all, unfinished []int64
	for _, r := range rows { // newest job first
		if r.Name != opts.Name || slices.Contains(all, r.ID) {
			continue
		}
		all = append(all, r.ID)
		if status, _ := cli.ManagedJobState(jobRows(rows, r.ID)); !status.Terminal() {
			unfinished = append(unfinished, r.ID)
		}
	}
	switch {
	case len(unfinished) == 1:
		return unfinished[0], nil
	case len(unfinished) > 1:
		return 0, fmt.Errorf("several unfinished managed jobs are named %q (IDs %v): give the JOB_ID", opts.Name, unfinished)
	case len(all) > 0:
		return all[0], nil
	}
	return 0, &api.ManagedJobNotFoundError{Name: opts.Name}
}

func jobRows(rows []api.ManagedJob, id int64) []api.ManagedJob {
	var out []api.ManagedJob
	for _, r := range rows {
		if r.ID == id {
			out = append(out, r)
		}
	}
	return out
}
