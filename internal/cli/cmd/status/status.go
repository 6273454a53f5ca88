// Package status implements `stix status`: list clusters with their state, resources and autostop.
package status

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stix-run/stix/api"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// StatusOptions are the parsed flags and arguments of `stix status`.
type StatusOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)
	Now    func() time.Time // for the LAUNCHED column's relative times

	// Clusters are names or glob patterns to show; empty shows all of the user's clusters.
	Clusters []string
	Verbose  bool // -v, or the older -a/--all: show every column in full
	Refresh  bool // -r: query the providers for the latest state before printing
	AllUsers bool // -u: include clusters of other users
	// IP prints only the head node's IP of the one cluster named. Endpoints prints all its exposed endpoints,
	// Endpoint (when not nil) only the URL of that port. They exclude each other and --refresh.
	IP              bool
	Endpoints       bool
	Endpoint        *int
	ShowManagedJobs bool // --show-managed-jobs (default on): also list in-progress managed jobs
	ShowServices    bool // --show-services (default on): also list services
	ShowPools       bool // --show-pools (default on): also list pools
	// Kubernetes (--kubernetes, --k8s) shows every stix resource in the current Kubernetes context instead.
	Kubernetes bool
	Output     cli.OutputFormat
}

// NewCmdStatus builds `stix status`. runF, when not nil, replaces the real run (the test seam).
func NewCmdStatus(f *cli.Factory, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IOStreams, Client: f.Client, Now: f.Now}
	var all bool
	cmd := &cobra.Command{
		Use:   "status [flags] [CLUSTER]...",
		Short: "Show clusters",
		Long: "Show clusters: name, when launched, resources, state (INIT, UP, STOPPED), autostop and the last command.\n\n" +
			"CLUSTER names or glob patterns limit the list. State is what stix last recorded; use -r to ask the\n" +
			"providers for the truth, e.g. after changes made outside stix or for autostopped clusters.",
		Example: "  stix status\n  stix status -r dev\n  stix status --ip dev\n  stix status --endpoint 8888 dev\n  stix status -o json",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Clusters = args
			opts.Verbose = opts.Verbose || all
			single := opts.Endpoints || opts.Endpoint != nil
			if opts.IP || single {
				switch {
				case opts.Refresh:
					return cli.FlagErrorf("--ip and --endpoint(s) cannot be used with --refresh: refresh first, then query")
				case opts.IP && single:
					return cli.FlagErrorf("use only one of --ip, --endpoints and --endpoint")
				case opts.Endpoints && opts.Endpoint != nil:
					return cli.FlagErrorf("use only one of --endpoints and --endpoint")
				case len(args) != 1:
					return cli.FlagErrorf("--ip and --endpoint(s) need exactly one CLUSTER, got %d", len(args))
				}
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return statusRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.Verbose, "verbose", "v", false, "Show all information in full")
	fs.BoolVarP(&all, "all", "a", false, "Same as -v (older spelling)")
	fs.BoolVarP(&opts.Refresh, "refresh", "r", false, "Query the latest cluster states from the providers")
	fs.BoolVarP(&opts.AllUsers, "all-users", "u", false, "Show clusters of all users (on an API server: admins only)")
	fs.BoolVar(&opts.IP, "ip", false, "Print only the head node's IP address of CLUSTER")
	fs.BoolVar(&opts.Endpoints, "endpoints", false, "Print only the exposed endpoints of CLUSTER (PORT: ENDPOINT lines)")
	cli.AddIntPtr(fs, &opts.Endpoint, "endpoint", "", "Print only the endpoint URL of this port on CLUSTER")
	cli.AddNegatableBool(fs, &opts.ShowManagedJobs, "show-managed-jobs", true, "Also show in-progress managed jobs", "Do not show managed jobs")
	cli.AddNegatableBool(fs, &opts.ShowServices, "show-services", true, "Also show services", "Do not show services")
	cli.AddNegatableBool(fs, &opts.ShowPools, "show-pools", true, "Also show pools", "Do not show pools")
	fs.BoolVar(&opts.Kubernetes, "kubernetes", false, "Show all stix resources in the current Kubernetes context, of every user")
	fs.BoolVar(&opts.Kubernetes, "k8s", false, "Same as --kubernetes")
	_ = fs.MarkHidden("k8s")
	cli.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

func statusRun(opts *StatusOptions) error {
	switch {
	case opts.Kubernetes:
		return cli.NotImplemented("status --kubernetes")
	case opts.Endpoints || opts.Endpoint != nil:
		return endpointsRun(opts)
	}
	client, err := opts.Client()
	if err != nil {
		return err
	}
	ctx := opts.Ctx
	if opts.AllUsers {
		ctx = api.WithAllUsers(ctx) // an API server shows a user their own clusters only without it
	}
	names := opts.Clusters
	if len(names) > 0 {
		if names, err = client.Match(ctx, opts.Clusters, false); err != nil {
			return err
		}
		if len(names) == 0 {
			fmt.Fprintln(opts.IO.ErrOut, "No cluster matches "+strings.Join(opts.Clusters, ", ")+".")
			return nil
		}
	}
	clusters, err := client.Status(ctx, names, opts.Refresh)
	if err != nil {
		return err
	}
	if opts.IP {
		if len(clusters) != 1 {
			return cli.FlagErrorf("--ip needs exactly one cluster name")
		}
		if clusters[0].Status != api.ClusterUp {
			return fmt.Errorf("cluster %q is %s: it has no IP until it is UP", clusters[0].Name, clusters[0].Status)
		}
		fmt.Fprintln(opts.IO.Out, clusters[0].HeadIP)
		return nil
	}
	return opts.Output.Write(opts.IO, clusters, func() error {
		if len(clusters) == 0 {
			fmt.Fprintln(opts.IO.Out, "No existing clusters.")
			return nil
		}
		// SkyPilot's columns: USER with -u; WORKSPACE after it when workspaces are in use; -v adds the head
		// node's IP and the last command.
		header := []string{"NAME", "INFRA", "RESOURCES", "STATUS", "AUTOSTOP", "LAUNCHED"}
		workspaces := showWorkspaces(clusters)
		if workspaces {
			header = slices.Insert(header, 1, "WORKSPACE")
		}
		if opts.AllUsers {
			header = slices.Insert(header, 1, "USER")
		}
		if opts.Verbose {
			header = append(header, "HEAD_IP", "COMMAND")
		}
		t := cli.NewTable(opts.IO, header...)
		for _, c := range clusters {
			cells := []cli.Cell{{Text: c.Name}, {Text: c.Infra}, {Text: c.Resources},
				cli.Styled(string(c.Status), cli.StateStyle(string(c.Status))), {Text: autostopText(c)},
				{Text: cli.RelativeTime(opts.Now(), c.LaunchedAt)}}
			if workspaces {
				cells = slices.Insert(cells, 1, cli.Cell{Text: orDash(c.Workspace)})
			}
			if opts.AllUsers {
				cells = slices.Insert(cells, 1, cli.Cell{Text: orDash(c.User)})
			}
			if opts.Verbose {
				cells = append(cells, cli.Cell{Text: orDash(c.HeadIP)}, cli.Cell{Text: orDash(c.LastUse)})
			}
			t.AddCells(cells...)
		}
		if err := t.Render(); err != nil {
			return err
		}
		for _, c := range clusters {
			if c.Note != "" {
				fmt.Fprintf(opts.IO.ErrOut, "%s: %s\n", c.Name, c.Note)
			}
		}
		return nil
	})
}

// showWorkspaces says whether the WORKSPACE column is shown: when a cluster listed is in a workspace other than
// the default one, so that a CLI whose server defines no workspaces shows what it always did.
func showWorkspaces(clusters []api.Cluster) bool {
	return slices.ContainsFunc(clusters, func(c api.Cluster) bool { return c.Workspace != "" && c.Workspace != api.DefaultWorkspace })
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// autostopText is the AUTOSTOP column: "-" when off, "10m", or "10m (down)" for autodown.
func autostopText(c api.Cluster) string {
	if c.AutostopMins < 0 {
		return "-"
	}
	s := fmt.Sprintf("%dm", c.AutostopMins)
	if c.ToDown {
		s += " (down)"
	}
	return s
}
