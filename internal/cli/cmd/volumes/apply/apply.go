// Package apply implements `stix volumes apply`: create a volume from a YAML or from flags.
package apply

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// ApplyOptions are the parsed flags and arguments of `stix volumes apply`. Flags override the YAML's fields.
type ApplyOptions struct {
	IO *cli.IOStreams

	// YAMLPath is the volume YAML; empty when the volume is given by flags alone.
	YAMLPath string
	Name     string
	Infra    string
	Type     string
	Size     string
	// UseExisting is --use-existing / --no-use-existing; nil keeps the YAML's use_existing.
	UseExisting *bool
	Yes         bool
	Async       bool
}

// NewCmdApply builds `stix volumes apply`. runF, when not nil, replaces the real run (the test seam).
func NewCmdApply(f *cli.Factory, runF func(*ApplyOptions) error) *cobra.Command {
	opts := &ApplyOptions{IO: f.IOStreams}
	var useExisting bool
	cmd := &cobra.Command{
		Use:   "apply [flags] [VOLUME_YAML]",
		Short: "Create a volume from a YAML or from flags",
		Example: "  stix volumes apply volume.yaml\n" +
			"  stix volumes apply --name pvc1 --infra k8s --type k8s-pvc --size 100Gi",
		Args: cli.MaxArgs(1, "VOLUME_YAML"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.YAMLPath = args[0]
			}
			if opts.YAMLPath == "" && opts.Name == "" {
				return cli.FlagErrorf("stix volumes apply needs a VOLUME_YAML or --name")
			}
			if cli.ChangedPair(cmd.Flags(), "use-existing") {
				opts.UseExisting = &useExisting
			}
			if runF != nil {
				return runF(opts)
			}
			return applyRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&opts.Name, "name", "n", "", "Volume name; overrides the YAML's name")
	fs.StringVar(&opts.Infra, "infra", "", "Where the volume lives: cloud, cloud/region, cloud/region/zone or k8s/context")
	fs.StringVar(&opts.Type, "type", "", "Volume type, e.g. k8s-pvc; overrides the YAML's type")
	fs.StringVar(&opts.Size, "size", "", "Volume size, e.g. 100Gi; overrides the YAML's size")
	cli.AddNegatableBool(fs, &useExisting, "use-existing", false, "Use an existing volume of that name", "Create a new volume")
	cli.AddYes(fs, &opts.Yes)
	cli.AddAsync(fs, &opts.Async)
	return cmd
}

func applyRun(opts *ApplyOptions) error {
	return cli.NotImplemented("volumes apply")
}
