// Package volumes builds `stix volumes` (alias `volume`): persistent volumes that tasks mount. No verb is built yet.
package volumes

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stix-run/stix/internal/cli"
)

// NewCmdVolumes builds `stix volumes` and its verbs.
func NewCmdVolumes() *cobra.Command {
	cmd := cli.NewGroup("volumes", "Persistent volumes that tasks mount", func() []*cobra.Command {
		return []*cobra.Command{
			cli.NotBuilt(&cobra.Command{
				Use:   "apply [flags] [VOLUME_YAML]",
				Short: "Create a volume from a YAML or from flags",
				Example: "  stix volumes apply volume.yaml\n" +
					"  stix volumes apply --name pvc1 --infra k8s --type k8s-pvc --size 100Gi",
				Args: cli.MaxArgs(1, "VOLUME_YAML"),
			}, func(fs *pflag.FlagSet) {
				fs.StringP("name", "n", "", "Volume name; overrides the YAML's name")
				fs.String("infra", "", "Where the volume lives: cloud, cloud/region, cloud/region/zone or k8s/context")
				fs.String("type", "", "Volume type, e.g. k8s-pvc; overrides the YAML's type")
				fs.String("size", "", "Volume size, e.g. 100Gi; overrides the YAML's size")
				cli.AddNegatableBool(fs, new(bool), "use-existing", false, "Use an existing volume of that name", "Create a new volume")
				cli.AddYes(fs, new(bool))
				cli.AddAsyncUnbuilt(fs, new(bool))
			}),
			cli.NotBuilt(&cobra.Command{Use: "ls [flags]", Short: "List volumes managed by stix", Args: cli.NoArgs},
				func(fs *pflag.FlagSet) { fs.BoolP("verbose", "v", false, "Show all information in full") }),
			cli.NotBuilt(&cobra.Command{
				Use:     "delete [flags] [NAME]...",
				Short:   "Delete volumes",
				Example: "  stix volumes delete pvc1 pvc2\n  stix volumes delete 'pvc*'\n  stix volumes delete -a",
			}, func(fs *pflag.FlagSet) {
				fs.BoolP("all", "a", false, "Delete all volumes")
				fs.BoolP("purge", "p", false, "Forget the volume even if deleting it fails")
				cli.AddYes(fs, new(bool))
				cli.AddAsyncUnbuilt(fs, new(bool))
			}),
		}
	})
	cmd.Aliases = []string{"volume"}
	return cmd
}
