// Package autostop implements `stix autostop`: schedule or cancel autostop/autodown of idle clusters.
package autostop

import (
	"context"
	"fmt"
	"github.com/spf13/cobra"
	"github.com/stix-run/stix/api"

	"github.com/stix-run/stix/internal/cli"
)

// DefaultIdleMinutes is the idle time used when -i is not given, as SkyPilot's.
const DefaultIdleMinutes = 5

// AutostopOptions are the parsed flags and arguments of `stix autostop`.
type AutostopOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)

	// Clusters are names or glob patterns. All (-a) or AllUsers (-u) take precedence over them.
	Clusters []string
	All      bool
	AllUsers bool
	// IdleMinutes is resolved: -i when given, -1 with --cancel, else DefaultIdleMinutes.
	IdleMinutes int
	Cancel      bool // --cancel: remove any autostop/autodown (IdleMinutes is -1)
	WaitFor     string
	Down        bool // autodown (terminate) instead of autostop
	Yes         bool
	Async       bool
}

// NewCmdAutostop builds `stix autostop`. runF, when not nil, replaces the real run (the test seam).
func NewCmdAutostop(f *cli.Factory, runF func(*AutostopOptions) error) *cobra.Command {
	opts := &AutostopOptions{IO: f.IOStreams, Client: f.Client}
	var idle *int
	cmd := &cobra.Command{
		Use:   "autostop [flags] [CLUSTER]...",
		Short: "Stop or tear down clusters after they have been idle",
		Long: "Schedule autostop (or autodown with --down) for clusters: after -i minutes without running or\n" +
			"pending jobs (and, by default, SSH sessions) the cluster stops itself. The idle timer restarts when\n" +
			"a job is submitted, the cluster restarts or a new setting is made. --cancel removes the setting.",
		Example: "  stix autostop dev -i 60\n  stix autostop dev -i 60 --down\n  stix autostop dev -i 60 --wait-for none\n  stix autostop dev --cancel",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Clusters = args
			if len(args) == 0 && !opts.All && !opts.AllUsers {
				return cli.FlagErrorf("stix autostop needs a CLUSTER name or glob (see `stix status`), -a/--all for all your clusters, or -u/--all-users")
			}
			switch {
			case opts.Cancel && idle != nil:
				return cli.FlagErrorf("use only one of -i/--idle-minutes and --cancel")
			case opts.Cancel:
				opts.IdleMinutes = -1
			case idle == nil:
				opts.IdleMinutes = DefaultIdleMinutes
			case *idle < 0:
				return cli.FlagErrorf("-i/--idle-minutes must be 0 or more (use --cancel to remove autostop), got %d", *idle)
			default:
				opts.IdleMinutes = *idle
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return autostopRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.All, "all", "a", false, "Apply to all of your clusters")
	fs.BoolVarP(&opts.AllUsers, "all-users", "u", false, "Apply to the clusters of all users")
	cli.AddIntPtr(fs, &idle, "idle-minutes", "i", "Idle minutes before the cluster stops (default 5)")
	cli.AddWaitFor(fs, &opts.WaitFor, "-i")
	fs.BoolVar(&opts.Cancel, "cancel", false, "Cancel any autostop or autodown of the clusters")
	fs.BoolVar(&opts.Down, "down", false, "Tear the cluster down (not restartable) instead of stopping it")
	cli.AddYes(fs, &opts.Yes)
	cli.AddAsync(fs, &opts.Async)
	return cmd
}

func autostopRun(opts *AutostopOptions) error {
	client, err := opts.Client()
	if err != nil {
		return err
	}
	if err := cli.CheckAsync(opts.Async, client); err != nil {
		return err
	}
	return cli.ForEachCluster(opts.Ctx, opts.IO, client, opts.Clusters, opts.All || opts.AllUsers, cli.ClusterAction{
		Verb: "Scheduling autostop for",
		Do: func(ctx context.Context, name string) (string, error) {
			if opts.Async {
				id, err := cli.RequestID(client.Autostop(ctx, name, api.AutostopOptions{IdleMinutes: opts.IdleMinutes, Down: opts.Down, Cancel: opts.Cancel}))
				if err != nil {
					return "", err
				}
				return cli.Submitted(opts.IO, "autostop", id), nil
			}
			_, err := api.Wait(client.Autostop(ctx, name, api.AutostopOptions{IdleMinutes: opts.IdleMinutes, Down: opts.Down, Cancel: opts.Cancel}))
			if err != nil {
				return "", err
			}
			switch {
			case opts.Cancel:
				return fmt.Sprintf("Autostop cancelled for cluster %s.", name), nil
			case opts.Down:
				return fmt.Sprintf("Cluster %s will be torn down after %d idle minutes.", name, opts.IdleMinutes), nil
			}
			return fmt.Sprintf("Cluster %s will be stopped after %d idle minutes.", name, opts.IdleMinutes), nil
		},
	})
}
