// Package logout implements `stix api logout`: stop using the API server logged in to.
package logout

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// NewCmdLogout builds `stix api logout`. runF, when not nil, replaces the real run (the test seam).
func NewCmdLogout(f *cli.Factory, runF func() error) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Log out of the API server",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF()
			}
			return cli.NotImplemented("api logout")
		},
	}
}
