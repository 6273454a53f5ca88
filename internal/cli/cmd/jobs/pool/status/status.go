// Package status implements `stix jobs pool status`: pools and their workers.
package status

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
)

// StatusOptions are the parsed flags and arguments of `stix jobs pool status`.
type StatusOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)
	Now    func() time.Time

	// Pools to show; empty shows all.
	Pools   []string
	Verbose bool // -v: every column
	All     bool // -a: every worker (accepted; every worker is shown)
	Output  cli.OutputFormat
}

// NewCmdStatus builds `stix jobs pool status`. runF, when not nil, replaces the real run (the test seam).
func NewCmdStatus(f *cli.Factory, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IOStreams, Now: f.Now, Client: f.ControllerClient}
	cmd := &cobra.Command{
		Use:   "status [flags] [POOL_NAME]...",
		Short: "Show pools and their workers",
		Long: "Show pools (REPLICA_INIT, READY, NO_REPLICA, SHUTTING_DOWN) and their workers (PROVISIONING,\n" +
			"READY, FAILED, SHUTTING_DOWN), with the managed job each one runs (USED_BY).",
		Example: "  stix jobs pool status\n  stix jobs pool status gpus",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			opts.Pools = args
			if runF != nil {
				return runF(opts)
			}
			return statusRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.Verbose, "verbose", "v", false, "Show all information in full")
	fs.BoolVarP(&opts.All, "all", "a", false, "Show all workers")
	cli.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

func statusRun(opts *StatusOptions) error {
	client, err := opts.Client()
	if err != nil {
		return err
	}
	ps, err := client.PoolStatus(opts.Ctx, opts.Pools)
	if err != nil {
		return err
	}
	if ps == nil {
		ps = []api.Pool{}
	}
	return opts.Output.Write(opts.IO, ps, func() error { return printStatus(opts, ps) })
}

// printStatus prints two tables, as SkyPilot's: pools (NAME, VERSION, UPTIME, STATUS, WORKERS; -v adds
// REQUESTED_RESOURCES) and workers (POOL_NAME, ID, VERSION, LAUNCHED, INFRA, STATUS, USED_BY; -v adds CLUSTER).
func printStatus(opts *StatusOptions, ps []api.Pool) error {
	io := opts.IO
	now := opts.Now()
	fmt.Fprintln(io.Out, io.Paint(cli.Bold, "Pools"))
	headers := []string{"NAME", "VERSION", "UPTIME", "STATUS", "WORKERS"}
	if opts.Verbose {
		headers = append(headers, "REQUESTED_RESOURCES")
	}
	t := cli.NewTable(io, headers...)
	for _, p := range ps {
		cells := []cli.Cell{{Text: p.Name}, {Text: strconv.Itoa(p.Version)}, {Text: cli.FormatDuration(now.Sub(p.CreatedAt))},
			cli.Styled(string(p.Status), cli.StateStyle(string(p.Status))), {Text: fmt.Sprintf("%d/%d", p.ReadyWorkers, p.Workers)}}
		if opts.Verbose {
			cells = append(cells, cli.Cell{Text: p.Resources})
		}
		t.AddCells(cells...)
	}
	if err := t.Render(); err != nil {
		return err
	}
	fmt.Fprintln(io.Out)
	fmt.Fprintln(io.Out, io.Paint(cli.Bold, "Pool Workers"))
	headers = []string{"POOL_NAME", "ID", "VERSION", "LAUNCHED", "INFRA", "STATUS", "USED_BY"}
	if opts.Verbose {
		headers = append(headers, "CLUSTER", "MESSAGE")
	}
	wt := cli.NewTable(io, headers...)
	for _, p := range ps {
		for _, w := range p.WorkerList {
			launched, usedBy, infra := "-", "-", w.Infra
			if w.LaunchedAt != nil {
				launched = cli.RelativeTime(now, *w.LaunchedAt)
			}
			if w.JobID != 0 {
				usedBy = fmt.Sprintf("job %d", w.JobID)
			}
			if infra == "" {
				infra = "-"
			}
			cells := []cli.Cell{{Text: p.Name}, {Text: strconv.Itoa(w.ID)}, {Text: strconv.Itoa(w.Version)}, {Text: launched},
				{Text: infra}, cli.Styled(string(w.Status), cli.StateStyle(string(w.Status))), {Text: usedBy}}
			if opts.Verbose {
				msg := w.Message
				if msg == "" {
					msg = "-"
				}
				cells = append(cells, cli.Cell{Text: w.Cluster}, cli.Cell{Text: msg})
			}
			wt.AddCells(cells...)
		}
	}
	return wt.Render()
}
