// Package status implements `stix api status`: the requests on the API server.
package status

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
)

// DefaultLimit is how many requests are listed without -l, as SkyPilot's.
const DefaultLimit = 50

// StatusOptions are the parsed flags and arguments of `stix api status`.
type StatusOptions struct {
	IO     *cli.IOStreams
	Now    func() time.Time
	Ctx    context.Context
	Client func() (api.Client, error)

	// RequestIDPrefixes limit the list to requests whose ID starts with one of them.
	RequestIDPrefixes []string
	// AllStatus (-a) includes finished requests (SUCCEEDED, FAILED, CANCELLED), not only PENDING and RUNNING.
	AllStatus bool
	// Limit is how many requests to show; 0 (-l none or -l all) shows all.
	Limit   int
	Verbose bool
	Output  cli.OutputFormat
}

// NewCmdStatus builds `stix api status`. runF, when not nil, replaces the real run (the test seam).
func NewCmdStatus(f *cli.Factory, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IOStreams, Now: f.Now, Client: f.Requests()}
	limit := strconv.Itoa(DefaultLimit)
	cmd := &cobra.Command{
		Use:   "status [flags] [REQUEST_ID_PREFIX]...",
		Short: "List the requests on the API server",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.RequestIDPrefixes = args
			opts.Ctx = cmd.Context()
			switch strings.ToLower(limit) {
			case "none", "all":
				opts.Limit = 0
			default:
				n, err := strconv.Atoi(limit)
				if err != nil || n < 1 {
					return cli.FlagErrorf("-l/--limit must be a positive integer, none or all, got %q", limit)
				}
				opts.Limit = n
			}
			if runF != nil {
				return runF(opts)
			}
			return statusRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.AllStatus, "all-status", "a", false, "Include finished requests (SUCCEEDED, FAILED, CANCELLED)")
	fs.StringVarP(&limit, "limit", "l", limit, `Show the latest N requests; "none" or "all" shows every one`)
	fs.BoolVarP(&opts.Verbose, "verbose", "v", false, "Show more details")
	cli.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

func statusRun(opts *StatusOptions) error {
	c, err := cli.ServerClient(opts.Client)
	if err != nil {
		return err
	}
	reqs, err := c.Requests(opts.Ctx, api.RequestFilter{IDPrefixes: opts.RequestIDPrefixes, All: opts.AllStatus,
		AllUsers: true, Limit: opts.Limit})
	if err != nil {
		return err
	}
	return opts.Output.Write(opts.IO, reqs, func() error {
		if len(reqs) == 0 {
			fmt.Fprintln(opts.IO.ErrOut, "No requests in flight; -a lists finished ones too.")
			return nil
		}
		headers := []string{"ID", "NAME", "USER", "CREATED", "STATUS"}
		if opts.Verbose {
			headers = append(headers, "CLUSTER", "ERROR")
		}
		t := cli.NewTable(opts.IO, headers...)
		for _, q := range reqs {
			row := []string{q.ID, q.Name, q.User, cli.RelativeTime(opts.Now(), q.Created), string(q.Status)}
			if opts.Verbose {
				msg := "-"
				if q.Error != nil {
					msg = q.Error.Message
				}
				row = append(row, orDash(q.Cluster), msg)
			}
			t.AddRow(row...)
		}
		return t.Render()
	})
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
