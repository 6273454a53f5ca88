// Package start implements `stix api start`: run the API server on this machine.
package start

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// Hosts are the addresses --host accepts.
var Hosts = []string{"127.0.0.1", "0.0.0.0", "localhost"}

// StartOptions are the parsed flags and arguments of `stix api start`.
type StartOptions struct {
	IO *cli.IOStreams

	// Host is the listen address; 0.0.0.0 allows remote access.
	Host string
	// Deploy dedicates the machine to the server: all its resources, and listening on 0.0.0.0.
	Deploy bool
	// Foreground runs the server in this process with its logs on stdout/stderr (for systemd, Kubernetes).
	Foreground      bool
	EnableBasicAuth bool
}

// NewCmdStart builds `stix api start`. runF, when not nil, replaces the real run (the test seam).
func NewCmdStart(f *cli.Factory, runF func(*StartOptions) error) *cobra.Command {
	opts := &StartOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "start [flags]",
		Short: "Start the API server on this machine",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Deploy && !cmd.Flags().Changed("host") {
				opts.Host = "0.0.0.0"
			}
			if runF != nil {
				return runF(opts)
			}
			return startRun(opts)
		},
	}
	fs := cmd.Flags()
	cli.AddChoice(fs, &opts.Host, "host", "", "127.0.0.1", Hosts, "Address to listen on; 0.0.0.0 allows remote access")
	fs.BoolVar(&opts.Deploy, "deploy", false, "Dedicate this machine to the server: use all its resources and listen on 0.0.0.0")
	fs.BoolVar(&opts.Foreground, "foreground", false, "Run in the foreground with logs on stdout/stderr (for systemd or Kubernetes)")
	fs.BoolVar(&opts.EnableBasicAuth, "enable-basic-auth", false, "Require HTTP basic authentication")
	return cmd
}

func startRun(opts *StartOptions) error {
	return cli.NotImplemented("api start")
}
