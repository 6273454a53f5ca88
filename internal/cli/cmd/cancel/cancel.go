// Package cancel implements `stix cancel`: cancel jobs on a cluster.
package cancel

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
)

// CancelOptions are the parsed flags and arguments of `stix cancel`.
type CancelOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)

	// Cluster is a name or a glob pattern; JobIDs are allowed only when it matches a single cluster.
	Cluster string
	// JobIDs to cancel. With none and neither All nor AllUsers, the latest running job is cancelled.
	JobIDs   []int
	All      bool // -a: all of the user's jobs on the cluster
	AllUsers bool // -u: every user's jobs on the cluster
	Yes      bool
	Async    bool
}

// NewCmdCancel builds `stix cancel`. runF, when not nil, replaces the real run (the test seam).
func NewCmdCancel(f *cli.Factory, runF func(*CancelOptions) error) *cobra.Command {
	opts := &CancelOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "cancel [flags] CLUSTER [JOB_ID]...",
		Short: "Cancel jobs on a cluster",
		Long: "Cancel jobs on CLUSTER (a name or glob pattern). Without JOB_ID, -a or -u, the latest running\n" +
			"job is cancelled. Job IDs are shown by `stix queue CLUSTER`. Asks for confirmation unless -y.",
		Example: "  stix cancel dev 1 2 3\n  stix cancel dev -a -y\n  stix cancel 'dev-*'",
		Args:    cli.MinArgs(1, "CLUSTER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Cluster = args[0]
			var err error
			if opts.JobIDs, err = cli.ParseInts(args[1:], "job ID"); err != nil {
				return err
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return cancelRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.All, "all", "a", false, "Cancel all of your jobs on the cluster")
	fs.BoolVarP(&opts.AllUsers, "all-users", "u", false, "Cancel the jobs of all users on the cluster")
	cli.AddYes(fs, &opts.Yes)
	cli.AddAsync(fs, &opts.Async)
	return cmd
}

func cancelRun(opts *CancelOptions) error {
	if len(opts.JobIDs) == 0 && !opts.All && !opts.AllUsers {
		fmt.Fprintln(opts.IO.ErrOut, opts.IO.Paint(cli.Yellow, "No job IDs or --all/--all-users provided; cancelling the latest running job."))
	}
	if !opts.Yes {
		if err := confirm(opts); err != nil {
			return err
		}
	}
	client, err := opts.Client()
	if err != nil {
		return err
	}
	if err := cli.CheckAsync(opts.Async, client); err != nil {
		return err
	}
	ids := opts.JobIDs
	all := opts.All || opts.AllUsers
	if len(ids) == 0 && !all {
		latest, err := client.Job(opts.Ctx, opts.Cluster, 0)
		if err != nil {
			return err
		}
		if latest.Status.IsTerminal() {
			return fmt.Errorf("no unfinished job to cancel on %s: the latest job, %d, is %s", opts.Cluster, latest.ID, latest.Status)
		}
		ids = []int{latest.ID}
	}
	if opts.Async {
		id, err := cli.RequestID(client.Cancel(opts.Ctx, opts.Cluster, ids, all))
		if err == nil {
			fmt.Fprintln(opts.IO.ErrOut, cli.Submitted(opts.IO, "cancel", id))
		}
		return err
	}
	outcomes, err := api.Wait(client.Cancel(opts.Ctx, opts.Cluster, ids, all))
	if err != nil {
		return err
	}
	if len(outcomes) == 0 {
		fmt.Fprintf(opts.IO.ErrOut, "No unfinished jobs to cancel on %s.\n", opts.Cluster)
		return nil
	}
	failed := false
	for _, o := range outcomes {
		if o.Cancelled {
			fmt.Fprintf(opts.IO.ErrOut, "Job %d cancelled.\n", o.JobID)
			continue
		}
		failed = true
		msg := o.Message
		if msg == "" {
			msg = fmt.Sprintf("job %d is %s: nothing to cancel", o.JobID, o.Status)
		}
		fmt.Fprintln(opts.IO.ErrOut, "Error: "+msg)
	}
	if failed {
		return cli.SilentExit(cli.ExitFailure)
	}
	return nil
}

// confirm asks before cancelling, in SkyPilot's words: "Cancelling <which jobs> on cluster(s): <CLUSTER>. Proceed?".
func confirm(opts *CancelOptions) error {
	var what string
	switch {
	case len(opts.JobIDs) == 0 && !opts.All && !opts.AllUsers:
		what = "the latest running job"
	case opts.AllUsers:
		what = "all users' jobs"
	default:
		var parts []string
		if opts.All {
			parts = append(parts, "all your jobs")
		}
		if len(opts.JobIDs) > 0 {
			ids := make([]string, len(opts.JobIDs))
			for i, id := range opts.JobIDs {
				ids[i] = strconv.Itoa(id)
			}
			noun := "job"
			if len(ids) > 1 {
				noun = "jobs"
			}
			parts = append(parts, noun+" "+strings.Join(ids, " "))
		}
		what = strings.Join(parts, " and ")
	}
	return cli.ConfirmOrAbort(opts.IO, fmt.Sprintf("Cancelling %s on cluster(s): %s. Proceed?", what, opts.Cluster))
}
