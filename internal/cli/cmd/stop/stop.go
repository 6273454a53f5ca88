// Package stop implements `stix stop`: stop clusters, keeping their disks.
package stop

import (
	"context"
	"fmt"
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
)

// StopOptions are the parsed flags and arguments of `stix stop`.
type StopOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)

	// Clusters are names or glob patterns. All (-a) or AllUsers (-u) take precedence over them.
	Clusters []string
	All      bool
	AllUsers bool
	Yes      bool
	Async    bool
}

// NewCmdStop builds `stix stop`. runF, when not nil, replaces the real run (the test seam).
func NewCmdStop(f *cli.Factory, runF func(*StopOptions) error) *cobra.Command {
	opts := &StopOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "stop [flags] [CLUSTER]...",
		Short: "Stop clusters; their disks are kept and `stix start` restarts them",
		Long: "Stop clusters. Instances stop billing but disks are kept (and billed) and reattached by `stix start`.\n" +
			"CLUSTER is a name or glob pattern; -a stops all your clusters. Spot clusters cannot be stopped.",
		Example: "  stix stop dev\n  stix stop 'dev-*'\n  stix stop -a -y",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Clusters = args
			if len(args) == 0 && !opts.All && !opts.AllUsers {
				return cli.FlagErrorf("stix stop needs a CLUSTER name or glob (see `stix status`), -a/--all for all your clusters, or -u/--all-users")
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return stopRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.All, "all", "a", false, "Stop all of your clusters")
	fs.BoolVarP(&opts.AllUsers, "all-users", "u", false, "Stop the clusters of all users")
	cli.AddYes(fs, &opts.Yes)
	cli.AddAsync(fs, &opts.Async)
	return cmd
}

func stopRun(opts *StopOptions) error {
	client, err := opts.Client()
	if err != nil {
		return err
	}
	if err := cli.CheckAsync(opts.Async, client); err != nil {
		return err
	}
	return cli.ForEachCluster(opts.Ctx, opts.IO, client, opts.Clusters, opts.All || opts.AllUsers, cli.ClusterAction{
		Verb: "Stopping", Confirm: true, Yes: opts.Yes,
		Do: func(ctx context.Context, name string) (string, error) {
			if opts.Async {
				id, err := cli.RequestID(client.Stop(ctx, name))
				if err != nil {
					return "", err
				}
				return cli.Submitted(opts.IO, "stop", id), nil
			}
			if _, err := api.Wait(client.Stop(ctx, name)); err != nil {
				return "", err
			}
			return fmt.Sprintf("Cluster %s stopped. To restart it: stix start %s", name, name), nil
		},
	})
}
