// Package down implements `stix serve down`: tear services (or one replica) down.
package down

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"

	"github.com/stix-run/stix/internal/cli"
)

// DownOptions are the parsed flags and arguments of `stix serve down`. Exactly one of ServiceNames and All is set.
type DownOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)

	// ServiceNames are names or glob patterns.
	ServiceNames []string
	All          bool
	AllUsers     bool // -u: with All, every user's services (an admin's), not only the caller's
	Purge        bool // -p: also tear down services (or the replica) in a failed state
	Yes          bool
	// ReplicaID, when not nil, tears down only that replica of the one service named.
	ReplicaID *int
	Async     bool
}

// NewCmdDown builds `stix serve down`. runF, when not nil, replaces the real run (the test seam).
func NewCmdDown(f *cli.Factory, runF func(*DownOptions) error) *cobra.Command {
	opts := &DownOptions{IO: f.IOStreams, Client: f.ControllerClient}
	cmd := &cobra.Command{
		Use:     "down [flags] [SERVICE_NAME]...",
		Short:   "Tear services down with all their replicas",
		Example: "  stix serve down llm\n  stix serve down -a\n  stix serve down llm --replica-id 1 --purge",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			opts.ServiceNames = args
			opts.All = opts.All || opts.AllUsers
			if (len(args) > 0) == opts.All {
				return cli.FlagErrorf("give exactly one of SERVICE_NAME... and -a/--all (or -u/--all-users)")
			}
			if opts.ReplicaID != nil && (len(args) != 1 || opts.All) {
				return cli.FlagErrorf("--replica-id needs exactly one SERVICE_NAME (not -a)")
			}
			if opts.ReplicaID != nil && *opts.ReplicaID < 1 {
				return cli.FlagErrorf("--replica-id must be a replica ID (1 or more), got %d", *opts.ReplicaID)
			}
			if runF != nil {
				return runF(opts)
			}
			return downRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.All, "all", "a", false, "Tear down all your services")
	fs.BoolVarP(&opts.AllUsers, "all-users", "u", false, "Tear down the services of all users (admins)")
	fs.BoolVarP(&opts.Purge, "purge", "p", false, "Also tear down services in a failed state")
	cli.AddYes(fs, &opts.Yes)
	cli.AddIntPtr(fs, &opts.ReplicaID, "replica-id", "", "Tear down only this replica of the service")
	cli.AddAsync(fs, &opts.Async)
	return cmd
}

func downRun(opts *DownOptions) error {
	io := opts.IO
	client, err := opts.Client()
	if err != nil {
		return err
	}
	if err := cli.CheckAsync(opts.Async, client); err != nil {
		return err
	}
	if !opts.Yes {
		what := "all your services"
		if opts.AllUsers {
			what = "the services of all users"
		}
		if !opts.All {
			what = "service(s) " + strings.Join(opts.ServiceNames, ", ")
		}
		if opts.ReplicaID != nil {
			what = fmt.Sprintf("replica ID %d in %s", *opts.ReplicaID, opts.ServiceNames[0])
		}
		if err := cli.ConfirmOrAbort(io, fmt.Sprintf("Terminating %s. Proceed?", what)); err != nil {
			return err
		}
	}
	ctx := opts.Ctx
	if opts.AllUsers {
		ctx = api.WithAllUsers(ctx) // an API server tears down only the caller's without it
	}
	req := api.ServeDownRequest{Names: opts.ServiceNames, All: opts.All, Purge: opts.Purge}
	if opts.ReplicaID != nil {
		req.ReplicaID = *opts.ReplicaID
	}
	op, err := client.ServeDown(ctx, req)
	if err != nil {
		return err
	}
	if opts.Async {
		fmt.Fprintln(io.ErrOut, cli.Submitted(io, "serve down", op.ID))
		return nil
	}
	out, err := cli.Watch(cli.NewProgress(io), op)
	if err != nil {
		return err
	}
	if len(out) == 0 {
		fmt.Fprintln(io.ErrOut, "No service to terminate.")
	}
	for _, o := range out {
		fmt.Fprintf(io.ErrOut, "Service %s: %s.\n", o.Name, o.Message)
	}
	return nil
}
