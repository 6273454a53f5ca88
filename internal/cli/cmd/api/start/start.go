// Package start implements `stix api start`: run the API server on this machine.
package start

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// Hosts are the addresses --host accepts.
var Hosts = []string{"127.0.0.1", "0.0.0.0", "localhost"}

// StartOptions are the parsed flags and arguments of `stix api start`.
type StartOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Server cli.ServerControl

	// Host is the listen address; 0.0.0.0 allows remote access.
	Host string
	// Deploy dedicates the machine to the server: all its resources, and listening on 0.0.0.0.
	Deploy bool
	// Foreground runs the server in this process with its logs on stdout/stderr (for systemd, Kubernetes).
	Foreground      bool
	EnableBasicAuth bool
	// Port is the port to listen on; 0 picks a free one (the endpoint file names it).
	Port int
	// TrustedNetwork allows --host beyond loopback without authentication.
	TrustedNetwork bool
	// LogFile is where a daemon's output goes (set by the daemonising parent; hidden).
	LogFile string
}

// NewCmdStart builds `stix api start`. runF, when not nil, replaces the real run (the test seam).
func NewCmdStart(f *cli.Factory, runF func(*StartOptions) error) *cobra.Command {
	opts := &StartOptions{IO: f.IOStreams, Server: f.Server}
	cmd := &cobra.Command{
		Use:   "start [flags]",
		Short: "Start the API server on this machine",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Deploy && !cmd.Flags().Changed("host") {
				opts.Host = "0.0.0.0"
			}
			opts.Ctx = cmd.Context()
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
	cli.MarkUnbuilt(fs, "enable-basic-auth")
	fs.IntVar(&opts.Port, "port", DefaultPort, "Port to listen on; 0 picks a free port")
	fs.BoolVar(&opts.TrustedNetwork, "trusted-network", false,
		"Allow --host beyond loopback without authentication (api_server.auth; see docs/auth.md)")
	fs.StringVar(&opts.LogFile, "log-file", "", "The file the server's output goes to (set when it daemonises)")
	_ = fs.MarkHidden("log-file")
	return cmd
}

// DefaultPort is the API server's port, SkyPilot's.
const DefaultPort = 46580

func startRun(opts *StartOptions) error {
	if opts.Port < 0 || opts.Port > 65535 {
		return cli.FlagErrorf("--port must be 0 to 65535, got %d", opts.Port)
	}
	run := cli.ServerRun{Host: opts.Host, Port: opts.Port, TrustedNetwork: opts.TrustedNetwork, LogFile: opts.LogFile}
	if opts.Foreground {
		return opts.Server.Run(opts.Ctx, run)
	}
	s, already, err := opts.Server.Daemon(opts.Ctx, run)
	if err != nil {
		return err
	}
	if already {
		fmt.Fprintf(opts.IO.ErrOut, "The API server is already running at %s (pid %d).\n", s.Endpoint, s.PID)
	} else {
		fmt.Fprintf(opts.IO.ErrOut, "The API server is running at %s (pid %d).\n", s.Endpoint, s.PID)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Point the CLI at it with `stix api login -e %s` or STIX_API_SERVER_ENDPOINT=%s.\n", s.Endpoint, s.Endpoint)
	fmt.Fprintln(opts.IO.Out, s.Endpoint)
	return nil
}
