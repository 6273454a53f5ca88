// Package local builds `stix local`: a local Kubernetes cluster for tasks (SkyPilot's hidden `sky local`). No verb
// is built yet.
package local

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stix-run/stix/internal/cli"
)

// NewCmdLocal builds `stix local` and its verbs. Hidden, as in SkyPilot.
func NewCmdLocal() *cobra.Command {
	cmd := cli.NewGroup("local", "A local Kubernetes cluster to run tasks on", func() []*cobra.Command {
		return []*cobra.Command{
			cli.NotBuilt(&cobra.Command{Use: "up [flags]", Short: "Create a local Kubernetes cluster", Args: cli.NoArgs},
				func(fs *pflag.FlagSet) {
					cli.AddNegatableBool(fs, new(bool), "gpus", true, "Give the cluster the GPUs found on this machine", "Create the cluster without GPU support")
					fs.String("name", "", "Name of the cluster (default skypilot)")
					cli.AddIntPtr(fs, new(*int), "port-start", "", "First port of the cluster's port range, a multiple of 100 (default: random)")
					cli.AddAsyncUnbuilt(fs, new(bool))
				}),
			cli.NotBuilt(&cobra.Command{Use: "down [flags]", Short: "Delete the local Kubernetes cluster", Args: cli.NoArgs},
				func(fs *pflag.FlagSet) {
					fs.String("name", "", "Name of the cluster to delete (default skypilot)")
					cli.AddAsyncUnbuilt(fs, new(bool))
				}),
		}
	})
	cmd.Hidden = true
	return cmd
}
