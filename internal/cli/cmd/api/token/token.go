// Package token implements `stix api token create|list|revoke`: an admin manages the API server's
// service-account tokens (SkyPilot manages them in its dashboard; stix has these verbs).
package token

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
)

// Options are the parsed flags and arguments of the `stix api token` verbs.
type Options struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)

	Name string
	// Role (--role) is admin or user; ExpiresInDays (--expires-in-days) 0 means never.
	Role          string
	ExpiresInDays int
}

// NewCmdToken builds `stix api token` and its verbs.
func NewCmdToken(f *cli.Factory) *cobra.Command {
	return cli.NewGroup("token", "Manage the API server's service-account tokens (admins)", func() []*cobra.Command {
		return []*cobra.Command{newCreate(f), newList(f), newRevoke(f)}
	})
}

func newCreate(f *cli.Factory) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:     "create NAME [--role user|admin] [--expires-in-days N]",
		Short:   "Create a service-account token; it is shown once",
		Example: "  stix api token create alice\n  stix api token create ci --role admin --expires-in-days 90",
		Args:    cli.RangeArgs(1, 1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name, opts.Ctx = args[0], cmd.Context()
			if opts.ExpiresInDays < 0 {
				return cli.FlagErrorf("--expires-in-days must be 0 (never expires) or more, got %d", opts.ExpiresInDays)
			}
			return createRun(opts)
		},
	}
	fs := cmd.Flags()
	cli.AddChoice(fs, &opts.Role, "role", "", api.RoleUser, []string{api.RoleUser, api.RoleAdmin}, "The role of the token's user")
	fs.IntVar(&opts.ExpiresInDays, "expires-in-days", 30, "Days until the token expires; 0: never (SkyPilot's default is 30)")
	return cmd
}

func createRun(opts *Options) error {
	c, err := cli.ServerClient(opts.Client)
	if err != nil {
		return err
	}
	t, err := c.CreateToken(opts.Ctx, api.TokenRequest{Name: opts.Name, Role: opts.Role, ExpiresInDays: opts.ExpiresInDays})
	if err != nil {
		return err
	}
	fmt.Fprintln(opts.IO.Out, t.Token)
	exp := "never expires"
	if t.Info.Expires != nil {
		exp = "expires " + t.Info.Expires.Format("2006-01-02 15:04 MST")
	}
	fmt.Fprintf(opts.IO.ErrOut, "Created token %q (role %s, %s). It is shown only now: give it to its user, who logs in "+
		"with `stix api login -e %s --token TOKEN`.\n", t.Info.Name, t.Info.Role, exp, c.Endpoint())
	return nil
}

func newList(f *cli.Factory) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Client: f.Client}
	return &cobra.Command{
		Use:   "list",
		Short: "List the service-account tokens (never the tokens themselves)",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			c, err := cli.ServerClient(opts.Client)
			if err != nil {
				return err
			}
			l, err := c.Tokens(opts.Ctx)
			if err != nil {
				return err
			}
			t := cli.NewTable(opts.IO, "NAME", "ROLE", "CREATED", "CREATOR", "EXPIRES", "STATUS")
			for _, i := range l {
				status, exp := "active", "never"
				if i.Expires != nil {
					exp = i.Expires.Format("2006-01-02 15:04")
				}
				if i.Revoked != nil {
					status = "revoked"
				}
				t.AddRow(i.Name, i.Role, i.Created.Format("2006-01-02 15:04"), i.Creator, exp, status)
			}
			return t.Render()
		},
	}
}

func newRevoke(f *cli.Factory) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Client: f.Client}
	return &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a service-account token: the server refuses it from then on",
		Args:  cli.RangeArgs(1, 1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cli.ServerClient(opts.Client)
			if err != nil {
				return err
			}
			if err := c.RevokeToken(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(opts.IO.ErrOut, "Revoked token %q.\n", args[0])
			return nil
		},
	}
}
