// Package stop implements `stix api stop`: stop the API server running on this machine.
package stop

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// StopOptions are the parsed flags and arguments of `stix api stop`.
type StopOptions struct {
	IO *cli.IOStreams
}

// NewCmdStop builds `stix api stop`. runF, when not nil, replaces the real run (the test seam).
func NewCmdStop(f *cli.Factory, runF func(*StopOptions) error) *cobra.Command {
	opts := &StopOptions{IO: f.IOStreams}
	return &cobra.Command{
		Use:   "stop",
		Short: "Stop the API server running on this machine",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return stopRun(opts)
		},
	}
}

func stopRun(opts *StopOptions) error {
	return cli.NotImplemented("api stop")
}
