// Package start implements `stix start`: restart stopped clusters (or retry failed ones).
package start

import (
	"context"
	"fmt"
	"github.com/spf13/cobra"
	"github.com/stix-run/stix/api"

	"github.com/stix-run/stix/internal/cli"
)

// StartOptions are the parsed flags and arguments of `stix start`.
type StartOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)

	// Clusters are names or glob patterns. Empty without All: the user's only cluster, if there is exactly one.
	Clusters []string
	All      bool
	Yes      bool
	// IdleMinutesToAutostop (-i) sets autostop on the restarted clusters; nil leaves it unset.
	IdleMinutesToAutostop *int
	WaitFor               string
	Down                  bool // with -i: autodown instead of autostop
	RetryUntilUp          bool // -r
	Force                 bool // -f: start even a cluster that is UP (re-runs the runtime setup)
	Async                 bool
}

// NewCmdStart builds `stix start`. runF, when not nil, replaces the real run (the test seam).
func NewCmdStart(f *cli.Factory, runF func(*StartOptions) error) *cobra.Command {
	opts := &StartOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "start [flags] [CLUSTER]...",
		Short: "Restart stopped clusters",
		Long: "Restart clusters that are STOPPED, or retry provisioning of clusters stuck in INIT. A cluster comes\n" +
			"back where it was (same cloud, region and zone); there is no failover. UP clusters are skipped\n" +
			"unless -f is given.",
		Example: "  stix start dev\n  stix start -a\n  stix start dev -i 30 --down",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Clusters = args
			if opts.Down && opts.IdleMinutesToAutostop == nil {
				return cli.FlagErrorf("--down needs -i/--idle-minutes-to-autostop")
			}
			if opts.IdleMinutesToAutostop != nil && *opts.IdleMinutesToAutostop < 0 {
				return cli.FlagErrorf("-i/--idle-minutes-to-autostop must be 0 or more, got %d", *opts.IdleMinutesToAutostop)
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return startRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.All, "all", "a", false, "Start all of your clusters")
	cli.AddYes(fs, &opts.Yes)
	cli.AddIntPtr(fs, &opts.IdleMinutesToAutostop, "idle-minutes-to-autostop", "i", "Stop the cluster after this many idle minutes")
	cli.AddWaitFor(fs, &opts.WaitFor, "-i")
	fs.BoolVar(&opts.Down, "down", false, "With -i: tear the cluster down instead of stopping it")
	fs.BoolVarP(&opts.RetryUntilUp, "retry-until-up", "r", false, "Retry until the cluster is up when capacity is short")
	fs.BoolVarP(&opts.Force, "force", "f", false, "Start the cluster even if it is UP (re-runs the runtime setup)")
	cli.AddAsync(fs, &opts.Async)
	return cmd
}

func startRun(opts *StartOptions) error {
	client, err := opts.Client()
	if err != nil {
		return err
	}
	if err := cli.CheckAsync(opts.Async, client); err != nil {
		return err
	}
	if opts.Async && (opts.IdleMinutesToAutostop != nil || opts.Down) {
		return cli.FlagErrorf("--async starts the cluster only: set autostop with `stix autostop` once it is UP")
	}
	progress := cli.NewProgress(opts.IO)
	defer progress.Stop()
	return cli.ForEachCluster(opts.Ctx, opts.IO, client, opts.Clusters, opts.All, cli.ClusterAction{
		Verb: "Restarting", Confirm: true, Yes: opts.Yes,
		Do: func(ctx context.Context, name string) (string, error) {
			if opts.Async {
				id, err := cli.RequestID(client.Start(ctx, name))
				if err != nil {
					return "", err
				}
				return cli.Submitted(opts.IO, "start", id), nil
			}
			op, err := client.Start(ctx, name)
			if err != nil {
				return "", err
			}
			if _, err := cli.Watch(progress, op); err != nil {
				return "", err
			}
			if opts.IdleMinutesToAutostop != nil || opts.Down {
				idle := 0
				if opts.IdleMinutesToAutostop != nil {
					idle = *opts.IdleMinutesToAutostop
				}
				if _, err := api.Wait(client.Autostop(ctx, name, api.AutostopOptions{IdleMinutes: idle, Down: opts.Down})); err != nil {
					return "", err
				}
			}
			return fmt.Sprintf("Cluster %s started.", name), nil
		},
	})
}
