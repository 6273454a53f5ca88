// Package login implements `stix api login`: point the CLI at a remote API server.
package login

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
)

// LoginOptions are the parsed flags and arguments of `stix api login`.
type LoginOptions struct {
	IO     *cli.IOStreams
	Server cli.ServerControl

	// Endpoint is the server URL (-e); empty asks for it.
	Endpoint string
	// Token is a service account token (--token, -t, --service-account-token); empty uses browser login.
	Token   string
	Relogin bool // force a new OAuth2 login
}

// NewCmdLogin builds `stix api login`. runF, when not nil, replaces the real run (the test seam).
func NewCmdLogin(f *cli.Factory, runF func(*LoginOptions) error) *cobra.Command {
	opts := &LoginOptions{IO: f.IOStreams, Server: f.Server}
	cmd := &cobra.Command{
		Use:     "login [flags]",
		Short:   "Log in to an API server and use it for every command",
		Example: "  stix api login -e https://stix.example.com\n  stix api login -e https://stix.example.com --token sky_abc123",
		Args:    cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return loginRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&opts.Endpoint, "endpoint", "e", "", "The API server's URL")
	fs.StringVarP(&opts.Token, "token", "t", "", "Service account token (starts with sky_)")
	fs.StringVar(&opts.Token, "service-account-token", "", "Same as --token")
	_ = fs.MarkHidden("service-account-token")
	fs.BoolVar(&opts.Relogin, "relogin", false, "Force a new OAuth2 login")
	cli.MarkUnbuilt(fs, "relogin")
	return cmd
}

// loginRun records the endpoint (and token) in $STIX_HOME/api_server.json; every command then goes through it.
// The server is not asked: a server that is down now is still the one to use.
func loginRun(opts *LoginOptions) error {
	if opts.Endpoint == "" {
		return cli.FlagErrorf("give the API server's URL with -e/--endpoint (browser login is not built yet)")
	}
	if err := opts.Server.Login(opts.Endpoint, opts.Token); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "Logged in: commands now go to the API server at %s. `stix api logout` undoes it.\n",
		api.RedactEndpoint(opts.Endpoint))
	return nil
}

// LogoutOptions are the parsed flags and arguments of `stix api logout`.
type LogoutOptions struct {
	IO     *cli.IOStreams
	Server cli.ServerControl
}

// NewCmdLogout builds `stix api logout`. runF, when not nil, replaces the real run (the test seam).
func NewCmdLogout(f *cli.Factory, runF func(*LogoutOptions) error) *cobra.Command {
	opts := &LogoutOptions{IO: f.IOStreams, Server: f.Server}
	return &cobra.Command{
		Use:   "logout",
		Short: "Log out of the API server",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return logoutRun(opts)
		},
	}
}

// logoutRun forgets what `stix api login` recorded; an endpoint set in the environment or config stays.
func logoutRun(opts *LogoutOptions) error {
	ok, err := opts.Server.Logout()
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintln(opts.IO.ErrOut, "Not logged in to an API server.")
	} else {
		fmt.Fprintln(opts.IO.ErrOut, "Logged out of the API server.")
	}
	if e, src, err := opts.Server.Endpoint(); err == nil && e != "" {
		fmt.Fprintf(opts.IO.ErrOut, "Commands still go to %s, set by %s.\n", e, src)
	}
	return nil
}
