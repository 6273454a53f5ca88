// Package cancel implements `stix api cancel`: cancel requests on the API server.
package cancel

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
)

// CancelOptions are the parsed flags and arguments of `stix api cancel`. RequestIDs, or All, or AllUsers.
type CancelOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)

	RequestIDs []string
	All        bool // -a: all of the user's requests
	AllUsers   bool // -u: every user's requests
	Yes        bool
}

// NewCmdCancel builds `stix api cancel`. runF, when not nil, replaces the real run (the test seam).
func NewCmdCancel(f *cli.Factory, runF func(*CancelOptions) error) *cobra.Command {
	opts := &CancelOptions{IO: f.IOStreams, Client: f.Requests()}
	cmd := &cobra.Command{
		Use:   "cancel [flags] [REQUEST_ID]...",
		Short: "Cancel requests on the API server",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.RequestIDs = args
			if len(args) == 0 && !opts.All && !opts.AllUsers {
				return cli.FlagErrorf("give REQUEST_ID..., -a/--all or -u/--all-users")
			}
			if len(args) > 0 && (opts.All || opts.AllUsers) {
				return cli.FlagErrorf("give either REQUEST_ID... or -a/-u, not both")
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return cancelRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.All, "all", "a", false, "Cancel all of your requests")
	fs.BoolVarP(&opts.AllUsers, "all-users", "u", false, "Cancel the requests of all users")
	cli.AddYes(fs, &opts.Yes)
	return cmd
}

func cancelRun(opts *CancelOptions) error {
	c, err := cli.ServerClient(opts.Client)
	if err != nil {
		return err
	}
	if (opts.All || opts.AllUsers) && !opts.Yes {
		who := "all of your requests"
		if opts.AllUsers {
			who = "the requests of all users"
		}
		if err := cli.ConfirmOrAbort(opts.IO, fmt.Sprintf("Cancelling %s in flight. Proceed?", who)); err != nil {
			return err
		}
	}
	ids, err := c.CancelRequests(opts.Ctx, opts.RequestIDs, opts.All, opts.AllUsers)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		fmt.Fprintln(opts.IO.ErrOut, "No request in flight to cancel.")
		return nil
	}
	for _, id := range ids {
		fmt.Fprintf(opts.IO.ErrOut, "Cancelled request %s.\n", id)
	}
	return nil
}
