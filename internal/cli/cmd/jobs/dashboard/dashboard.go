// Package dashboard implements `stix jobs dashboard`: open the dashboard's managed jobs page.
package dashboard

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// NewCmdDashboard builds `stix jobs dashboard`. runF, when not nil, replaces the real run (the test seam).
func NewCmdDashboard(f *cli.Factory, runF func() error) *cobra.Command {
	return &cobra.Command{
		Use:   "dashboard",
		Short: "Open the dashboard's page of managed jobs",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF()
			}
			return cli.NotImplemented("jobs dashboard")
		},
	}
}
