// Package validate implements `stix validate`: a linter for SkyPilot task YAMLs.
package validate

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// Options are the parsed flags and arguments of `stix validate`.
type Options struct {
	IO    *cli.IOStreams
	Files []string
}

// NewCmdValidate builds `stix validate`. runF, when not nil, replaces the real run (the test seam).
func NewCmdValidate(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check task YAML files and report every problem with its position",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if runF != nil {
				return runF(opts)
			}
			return validateRun(opts)
		},
	}
	return cmd
}

func validateRun(opts *Options) error {
	return cli.NotImplemented("validate")
}
