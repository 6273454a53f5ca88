// Package down implements `stix down`: tear clusters down, deleting everything they hold.
package down

import (
	"context"
	"fmt"
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
)

// DownOptions are the parsed flags and arguments of `stix down`.
type DownOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)

	// Clusters are names or glob patterns. All (-a) or AllUsers (-u) take precedence over them.
	Clusters []string
	All      bool
	AllUsers bool
	Yes      bool
	// Purge (-p) removes the clusters from stix's table even when terminating them failed; the user then owns
	// any leaked resources.
	Purge bool
	Async bool
}

// NewCmdDown builds `stix down`. runF, when not nil, replaces the real run (the test seam).
func NewCmdDown(f *cli.Factory, runF func(*DownOptions) error) *cobra.Command {
	opts := &DownOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "down [flags] [CLUSTER]...",
		Short: "Tear clusters down; all their resources and disks are deleted",
		Long: "Tear clusters down: every resource is deleted, billing stops and data on their disks is lost.\n" +
			"CLUSTER is a name or glob pattern; -a tears down all your clusters.",
		Example: "  stix down dev\n  stix down 'dev-*'\n  stix down -a -y",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Clusters = args
			if len(args) == 0 && !opts.All && !opts.AllUsers {
				return cli.FlagErrorf("stix down needs a CLUSTER name or glob (see `stix status`), -a/--all for all your clusters, or -u/--all-users")
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return downRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.All, "all", "a", false, "Tear down all of your clusters")
	fs.BoolVarP(&opts.AllUsers, "all-users", "u", false, "Tear down the clusters of all users")
	cli.AddYes(fs, &opts.Yes)
	fs.BoolVarP(&opts.Purge, "purge", "p", false, "Forget the clusters even if terminating them fails (you must clean up leaks)")
	cli.AddAsync(fs, &opts.Async)
	return cmd
}

func downRun(opts *DownOptions) error {
	client, err := opts.Client()
	if err != nil {
		return err
	}
	if err := cli.CheckAsync(opts.Async, client); err != nil {
		return err
	}
	return cli.ForEachCluster(opts.Ctx, opts.IO, client, opts.Clusters, opts.All || opts.AllUsers, cli.ClusterAction{
		Verb: "Terminating", Confirm: true, Yes: opts.Yes,
		Do: func(ctx context.Context, name string) (string, error) {
			if opts.Async {
				id, err := cli.RequestID(client.Down(ctx, name, opts.Purge))
				if err != nil {
					return "", err
				}
				return cli.Submitted(opts.IO, "down", id), nil
			}
			if _, err := api.Wait(client.Down(ctx, name, opts.Purge)); err != nil {
				return "", err
			}
			return fmt.Sprintf("Cluster %s terminated.", name), nil
		},
	})
}
