// Package info implements `stix api info`: which API server the CLI uses, and its version.
package info

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// InfoOptions are the parsed flags and arguments of `stix api info`.
type InfoOptions struct {
	IO *cli.IOStreams
}

// NewCmdInfo builds `stix api info`. runF, when not nil, replaces the real run (the test seam).
func NewCmdInfo(f *cli.Factory, runF func(*InfoOptions) error) *cobra.Command {
	opts := &InfoOptions{IO: f.IOStreams}
	return &cobra.Command{
		Use:   "info",
		Short: "Show the API server the CLI uses, its status and version",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return infoRun(opts)
		},
	}
}

func infoRun(opts *InfoOptions) error {
	return cli.NotImplemented("api info")
}
