package stixcmd

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/cmd/validate"
)

// NewRootCmd builds the whole stix command tree. Every verb is listed here, explicitly.
func NewRootCmd(f *cli.Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "stix",
		Short: "Run SkyPilot tasks on the cheapest infrastructure that fits",
		Long: "stix runs SkyPilot task YAMLs on this machine, your own hosts over SSH, Docker, Kubernetes,\n" +
			"Slurm or the public clouds. It reads the same YAML and takes the same commands as SkyPilot.",
		Version:       f.Version,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetVersionTemplate("stix version {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cli.FlagError{Err: err} })

	root.AddCommand(
		validate.NewCmdValidate(f, nil),
	)
	return root
}

// isCobraUsageError recognises the argument errors cobra builds itself (unknown command, wrong arg count).
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "unknown flag", "unknown shorthand flag"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
