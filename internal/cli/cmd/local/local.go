// Package local builds `stix local`: a local Kubernetes cluster for tasks (SkyPilot's hidden `sky local`).
package local

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/cmd/local/down"
	"github.com/stix-run/stix/internal/cli/cmd/local/up"
)

// NewCmdLocal builds `stix local` and its verbs. Hidden, as in SkyPilot.
func NewCmdLocal(f *cli.Factory) *cobra.Command {
	cmd := cli.NewGroup("local", "A local Kubernetes cluster to run tasks on",
		up.NewCmdUp(f, nil),
		down.NewCmdDown(f, nil),
	)
	cmd.Hidden = true
	return cmd
}
