// Package info implements `stix api info`: which API server the CLI uses, and its version.
package info

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
)

// InfoOptions are the parsed flags and arguments of `stix api info`.
type InfoOptions struct {
	IO      *cli.IOStreams
	Ctx     context.Context
	Client  func() (api.Client, error)
	Server  cli.ServerControl
	Version string
}

// NewCmdInfo builds `stix api info`. runF, when not nil, replaces the real run (the test seam).
func NewCmdInfo(f *cli.Factory, runF func(*InfoOptions) error) *cobra.Command {
	opts := &InfoOptions{IO: f.IOStreams, Client: f.Client, Server: f.Server, Version: f.Version}
	return &cobra.Command{
		Use:   "info",
		Short: "Show the API server the CLI uses, its status and version",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return infoRun(opts)
		},
	}
}

func infoRun(opts *InfoOptions) error {
	endpoint, source, err := opts.Server.Endpoint()
	if err != nil {
		return err
	}
	out := opts.IO.Out
	if endpoint == "" {
		fmt.Fprintf(out, "Using no API server: commands run in this process (stix %s).\n", opts.Version)
		fmt.Fprintln(out, "Start one with `stix api start`, then `stix api login -e URL` or set STIX_API_SERVER_ENDPOINT.")
		return nil
	}
	c, err := cli.ServerClient(opts.Client)
	if err != nil {
		return err
	}
	h, err := c.Health(opts.Ctx)
	if err != nil {
		return fmt.Errorf("the API server at %s (from %s) does not answer: %w", endpoint, source, err)
	}
	fmt.Fprintf(out, "Using the API server at %s (from %s)\n", c.Endpoint(), source)
	fmt.Fprintf(out, "├── Status: %s, version %s, commit %s\n", h.Status, h.Version, h.Commit)
	fmt.Fprintf(out, "└── User: %s\n", h.User)
	return nil
}
