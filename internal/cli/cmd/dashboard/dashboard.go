// Package dashboard implements `stix dashboard`: open the web dashboard of the API server.
package dashboard

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// DashboardOptions are the parsed flags and arguments of `stix dashboard`.
type DashboardOptions struct {
	IO *cli.IOStreams
}

// NewCmdDashboard builds `stix dashboard`. runF, when not nil, replaces the real run (the test seam).
func NewCmdDashboard(f *cli.Factory, runF func(*DashboardOptions) error) *cobra.Command {
	opts := &DashboardOptions{IO: f.IOStreams}
	return &cobra.Command{
		Use:     "dashboard",
		Aliases: []string{"ui"}, // SkyPilot's hidden `sky ui`
		Short:   "Open the stix dashboard in a browser",
		Args:    cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return dashboardRun(opts)
		},
	}
}

func dashboardRun(opts *DashboardOptions) error {
	return cli.NotImplemented("dashboard")
}
