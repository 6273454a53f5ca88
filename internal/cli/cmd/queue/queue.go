// Package queue implements `stix queue`: list the jobs on one or more clusters.
package queue

import (
	"context"
	"fmt"
	"github.com/stix-run/stix/api"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// QueueOptions are the parsed flags and arguments of `stix queue`.
type QueueOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)
	Now    func() time.Time

	// Clusters whose queues to show; empty means every cluster of the user (all users with -u).
	Clusters     []string
	SkipFinished bool // -s: only pending and running jobs
	AllUsers     bool // -u (or the older -a): jobs of all users
	Output       cli.OutputFormat
}

// NewCmdQueue builds `stix queue`. runF, when not nil, replaces the real run (the test seam).
func NewCmdQueue(f *cli.Factory, runF func(*QueueOptions) error) *cobra.Command {
	opts := &QueueOptions{IO: f.IOStreams, Client: f.Client, Now: f.Now}
	cmd := &cobra.Command{
		Use:     "queue [flags] [CLUSTER]...",
		Short:   "Show the job queue of clusters",
		Long:    "Show the job queue of the given clusters, or of all your clusters: ID, name, submitted, started,\nduration, resources, state and log path.",
		Example: "  stix queue\n  stix queue -s dev\n  stix queue -o json dev",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Clusters = args
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return queueRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.SkipFinished, "skip-finished", "s", false, "Show only pending and running jobs")
	fs.BoolVarP(&opts.AllUsers, "all-users", "u", false, "Show jobs of all users")
	fs.BoolVarP(&opts.AllUsers, "all", "a", false, "Same as -u (older spelling)")
	_ = fs.MarkHidden("all")
	cli.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

func queueRun(opts *QueueOptions) error {
	client, err := opts.Client()
	if err != nil {
		return err
	}
	names, err := client.Match(opts.Ctx, opts.Clusters, len(opts.Clusters) == 0)
	if err != nil {
		return err
	}
	queues := map[string][]api.Job{}
	var failed []string
	for _, name := range names {
		jobs, err := client.Queue(opts.Ctx, name, opts.SkipFinished)
		if err != nil {
			if len(opts.Clusters) > 0 {
				return err
			}
			failed = append(failed, name) // e.g. a STOPPED cluster: no queue to show, say so below
			continue
		}
		queues[name] = jobs
	}
	return opts.Output.Write(opts.IO, queues, func() error {
		now := opts.Now()
		for i, name := range names {
			jobs, ok := queues[name]
			if !ok {
				continue
			}
			if i > 0 {
				fmt.Fprintln(opts.IO.Out)
			}
			fmt.Fprintf(opts.IO.ErrOut, "Job queue of cluster %s\n", name)
			t := cli.NewTable(opts.IO, "ID", "NAME", "SUBMITTED", "STARTED", "DURATION", "RESOURCES", "STATUS")
			for _, j := range jobs {
				t.AddCells(cli.Cell{Text: strconv.Itoa(j.ID)}, cli.Cell{Text: dash(j.Name)},
					cli.Cell{Text: cli.RelativeTime(now, j.SubmittedAt)}, cli.Cell{Text: startedText(now, j)},
					cli.Cell{Text: durationText(now, j)}, cli.Cell{Text: j.Resources},
					cli.Styled(string(j.Status), cli.StateStyle(string(j.Status))))
			}
			if err := t.Render(); err != nil {
				return err
			}
		}
		for _, name := range failed {
			fmt.Fprintf(opts.IO.ErrOut, "Cluster %s: no job queue (it is not UP).\n", name)
		}
		return nil
	})
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func startedText(now time.Time, j api.Job) string {
	if j.StartedAt == nil {
		return "-"
	}
	return cli.RelativeTime(now, *j.StartedAt)
}

// durationText is how long the job ran (or has been running).
func durationText(now time.Time, j api.Job) string {
	if j.StartedAt == nil {
		return "-"
	}
	end := now
	if j.EndedAt != nil {
		end = *j.EndedAt
	}
	return cli.FormatDuration(end.Sub(*j.StartedAt))
}
