// Package ssh builds `stix ssh`: SSH node pools, machines you own that stix runs tasks on.
package ssh

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/cmd/ssh/down"
	"github.com/stix-run/stix/internal/cli/cmd/ssh/up"
)

// NewCmdSSH builds `stix ssh` and its verbs.
func NewCmdSSH(f *cli.Factory) *cobra.Command {
	return cli.NewGroup("ssh", "SSH node pools: your own machines as infrastructure", func() []*cobra.Command {
		return []*cobra.Command{
			up.NewCmdUp(f, nil),
			down.NewCmdDown(f, nil),
		}
	})
}
