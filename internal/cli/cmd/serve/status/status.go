// Package status implements `stix serve status`: services, their replicas and endpoints.
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

// StatusOptions are the parsed flags and arguments of `stix serve status`.
type StatusOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)
	Now    func() time.Time

	// ServiceNames to show; empty shows all services.
	ServiceNames []string
	Verbose      bool // -v: every column
	AllUsers     bool // -u: every user's services (an admin's), not only the caller's
	// Endpoint prints only the endpoint of the single service named.
	Endpoint bool
	Output   cli.OutputFormat
}

// NewCmdStatus builds `stix serve status`. runF, when not nil, replaces the real run (the test seam).
func NewCmdStatus(f *cli.Factory, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IOStreams, Now: f.Now, Client: f.ControllerClient}
	cmd := &cobra.Command{
		Use:   "status [flags] [SERVICE_NAME]...",
		Short: "Show services and their replicas",
		Long: "Show services (CONTROLLER_INIT, REPLICA_INIT, READY, NO_REPLICAS, SHUTTING_DOWN, FAILED, ...) and\n" +
			"their replicas (PENDING, PROVISIONING, STARTING, READY, NOT_READY, PREEMPTED, FAILED, ...).",
		Example: "  stix serve status\n  stix serve status -v llm\n  stix serve status --endpoint llm",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			opts.ServiceNames = args
			if opts.Endpoint && len(args) != 1 {
				return cli.FlagErrorf("--endpoint needs exactly one SERVICE_NAME, got %d", len(args))
			}
			if runF != nil {
				return runF(opts)
			}
			return statusRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.Verbose, "verbose", "v", false, "Show all information in full")
	fs.BoolVar(&opts.Endpoint, "endpoint", false, "Print only the service's endpoint")
	fs.BoolVarP(&opts.AllUsers, "all-users", "u", false, "Show the services of all users (admins)")
	cli.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

func statusRun(opts *StatusOptions) error {
	client, err := opts.Client()
	if err != nil {
		return err
	}
	ctx := opts.Ctx
	if opts.AllUsers {
		ctx = api.WithAllUsers(ctx) // an API server shows a user their own services only without it
	}
	ss, err := client.ServeStatus(ctx, opts.ServiceNames)
	if err != nil {
		return err
	}
	if ss == nil {
		ss = []api.Service{}
	}
	if opts.Endpoint {
		if len(ss) == 0 {
			return &api.ServiceNotFoundError{Name: opts.ServiceNames[0]}
		}
		if ss[0].Endpoint == "" {
			return fmt.Errorf("service %s has no endpoint yet: see `stix serve status %s`", ss[0].Name, ss[0].Name)
		}
		fmt.Fprintln(opts.IO.Out, ss[0].Endpoint)
		return nil
	}
	return opts.Output.Write(opts.IO, ss, func() error { return printStatus(opts, ss) })
}

// printStatus prints SkyServe's two tables: services (NAME, VERSION, UPTIME, STATUS, REPLICAS, ENDPOINT; -v adds
// POLICY and REQUESTED_RESOURCES' place is left to the replicas) and replicas (SERVICE_NAME, ID, VERSION,
// ENDPOINT, LAUNCHED, INFRA, RESOURCES, STATUS).
func printStatus(opts *StatusOptions, ss []api.Service) error {
	io := opts.IO
	now := opts.Now()
	fmt.Fprintln(io.Out, io.Paint(cli.Bold, "Services"))
	headers := []string{"NAME", "VERSION", "UPTIME", "STATUS", "REPLICAS", "ENDPOINT"}
	if opts.Verbose {
		headers = append(headers, "POLICY")
	}
	t := cli.NewTable(io, headers...)
	for _, s := range ss {
		ready := 0
		for _, r := range s.Replicas {
			if r.Status == "READY" {
				ready++
			}
		}
		uptime := "-"
		if s.Uptime > 0 {
			uptime = cli.FormatDuration(time.Duration(s.Uptime))
		}
		cells := []cli.Cell{{Text: s.Name}, {Text: strconv.Itoa(s.Version)}, {Text: uptime},
			cli.Styled(string(s.Status), cli.StateStyle(string(s.Status))), {Text: fmt.Sprintf("%d/%d", ready, len(s.Replicas))}, {Text: orDash(s.Endpoint)}}
		if opts.Verbose {
			cells = append(cells, cli.Cell{Text: orDash(s.Policy)})
		}
		t.AddCells(cells...)
	}
	if err := t.Render(); err != nil {
		return err
	}
	fmt.Fprintln(io.Out)
	fmt.Fprintln(io.Out, io.Paint(cli.Bold, "Service Replicas"))
	rt := cli.NewTable(io, "SERVICE_NAME", "ID", "VERSION", "ENDPOINT", "LAUNCHED", "INFRA", "RESOURCES", "STATUS")
	for _, s := range ss {
		for _, r := range s.Replicas {
			launched := "-"
			if !r.LaunchedAt.IsZero() {
				launched = cli.RelativeTime(now, r.LaunchedAt)
			}
			rt.AddCells(cli.Cell{Text: s.Name}, cli.Cell{Text: strconv.Itoa(r.ID)}, cli.Cell{Text: strconv.Itoa(r.Version)},
				cli.Cell{Text: orDash(r.Endpoint)}, cli.Cell{Text: launched}, cli.Cell{Text: orDash(r.Infra)}, cli.Cell{Text: orDash(r.Resources)},
				cli.Styled(string(r.Status), cli.StateStyle(string(r.Status))))
		}
	}
	return rt.Render()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
