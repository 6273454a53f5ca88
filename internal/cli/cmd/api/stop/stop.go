// Package stop implements `stix api stop`: stop the API server running on this machine.
package stop

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// StopOptions are the parsed flags and arguments of `stix api stop`.
type StopOptions struct {
	IO     *cli.IOStreams
	Server cli.ServerControl
}

// NewCmdStop builds `stix api stop`. runF, when not nil, replaces the real run (the test seam).
func NewCmdStop(f *cli.Factory, runF func(*StopOptions) error) *cobra.Command {
	opts := &StopOptions{IO: f.IOStreams, Server: f.Server}
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

// stopRun stops the local server: it cancels its requests in flight (they end CANCELLED) and exits.
func stopRun(opts *StopOptions) error {
	s, ok, err := opts.Server.Stop()
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintln(opts.IO.ErrOut, "No API server is running on this machine.")
		return nil
	}
	fmt.Fprintf(opts.IO.ErrOut, "The API server at %s (pid %d) stopped.\n", s.Endpoint, s.PID)
	return nil
}
