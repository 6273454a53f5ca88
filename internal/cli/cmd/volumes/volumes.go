// Package volumes builds `stix volumes` (alias `volume`): persistent volumes that tasks mount.
package volumes

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/cmd/volumes/apply"
	"github.com/stix-run/stix/internal/cli/cmd/volumes/delete"
	"github.com/stix-run/stix/internal/cli/cmd/volumes/ls"
)

// NewCmdVolumes builds `stix volumes` and its verbs.
func NewCmdVolumes(f *cli.Factory) *cobra.Command {
	cmd := cli.NewGroup("volumes", "Persistent volumes that tasks mount",
		apply.NewCmdApply(f, nil),
		ls.NewCmdLs(f, nil),
		delete.NewCmdDelete(f, nil),
	)
	cmd.Aliases = []string{"volume"}
	return cmd
}
