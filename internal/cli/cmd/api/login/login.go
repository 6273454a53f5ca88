// Package login implements `stix api login`: point the CLI at a remote API server.
package login

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// LoginOptions are the parsed flags and arguments of `stix api login`.
type LoginOptions struct {
	IO *cli.IOStreams

	// Endpoint is the server URL (-e); empty asks for it.
	Endpoint string
	// Token is a service account token (--token, -t, --service-account-token); empty uses browser login.
	Token   string
	Relogin bool // force a new OAuth2 login
}

// NewCmdLogin builds `stix api login`. runF, when not nil, replaces the real run (the test seam).
func NewCmdLogin(f *cli.Factory, runF func(*LoginOptions) error) *cobra.Command {
	opts := &LoginOptions{IO: f.IOStreams}
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
	return cmd
}

func loginRun(opts *LoginOptions) error {
	return cli.NotImplemented("api login")
}
