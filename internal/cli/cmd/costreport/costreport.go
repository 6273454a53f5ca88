// Package costreport implements `stix cost-report`: estimated costs of clusters launched recently.
package costreport

import (
	"context"
	"fmt"
	"github.com/stix-run/stix/api"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// DefaultDays is how far back the report looks without --days, as SkyPilot's.
const DefaultDays = 30

// CostReportOptions are the parsed flags and arguments of `stix cost-report`.
type CostReportOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)
	Now    func() time.Time

	All bool // -a: every cluster and column, not only the most recent ones
	// Days limits the report to clusters of the last N days; 0 means all history.
	Days   int
	Output cli.OutputFormat
}

// NewCmdCostReport builds `stix cost-report`. runF, when not nil, replaces the real run (the test seam).
func NewCmdCostReport(f *cli.Factory, runF func(*CostReportOptions) error) *cobra.Command {
	opts := &CostReportOptions{IO: f.IOStreams, Client: f.Client, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "cost-report [flags]",
		Short: "Show the estimated cost of clusters",
		Long: "Show, for each cluster launched in the last --days days: resources, launch time, time up and estimated\n" +
			"cost from catalog prices. Estimates can be off for spot or autostopped clusters and for clusters\n" +
			"changed outside stix.",
		Example: "  stix cost-report\n  stix cost-report -a --days 0\n  stix cost-report -o json",
		Args:    cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Days < 0 {
				return cli.FlagErrorf("--days must be 0 (all) or more, got %d", opts.Days)
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return costReportRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.All, "all", "a", false, "Show all clusters and all columns")
	fs.IntVar(&opts.Days, "days", DefaultDays, "Show clusters of the last N days (0: all)")
	cli.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

func costReportRun(opts *CostReportOptions) error {
	client, err := opts.Client()
	if err != nil {
		return err
	}
	entries, err := client.CostReport(opts.Ctx)
	if err != nil {
		return err
	}
	now := opts.Now()
	if opts.Days > 0 {
		since := now.AddDate(0, 0, -opts.Days)
		entries = slices.DeleteFunc(entries, func(e api.CostReportEntry) bool { return e.LaunchedAt.Before(since) })
	}
	// Live clusters first, then the most recently launched, as SkyPilot lists them.
	slices.SortStableFunc(entries, func(a, b api.CostReportEntry) int {
		if (a.Status == "TERMINATED") != (b.Status == "TERMINATED") {
			if a.Status == "TERMINATED" {
				return 1
			}
			return -1
		}
		return b.LaunchedAt.Compare(a.LaunchedAt)
	})
	if !opts.All && len(entries) > shownByDefault {
		entries = entries[:shownByDefault]
	}
	return opts.Output.Write(opts.IO, entries, func() error {
		if len(entries) == 0 {
			fmt.Fprintln(opts.IO.Out, "No clusters launched yet.")
			return nil
		}
		t := cli.NewTable(opts.IO, "NAME", "LAUNCHED", "DURATION", "RESOURCES", "STATUS", "COST/hr", "COST (est.)")
		total := 0.0
		for _, e := range entries {
			total += e.TotalCost
			t.AddRow(e.Name, cli.RelativeTime(now, e.LaunchedAt), cli.FormatDuration(time.Duration(e.Duration)), e.Resources,
				e.Status, fmt.Sprintf("$ %.2f", e.HourlyPrice), fmt.Sprintf("$ %.2f", e.TotalCost))
		}
		if err := t.Render(); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.ErrOut, "Total: $ %.2f\n", total)
		return nil
	})
}

// shownByDefault is how many clusters the report lists without -a, as in SkyPilot.
const shownByDefault = 5
