// Package status implements `stix serve status`: services, their replicas and endpoints.
package status

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// StatusOptions are the parsed flags and arguments of `stix serve status`.
type StatusOptions struct {
	IO  *cli.IOStreams
	Now func() time.Time

	// ServiceNames to show; empty shows all services.
	ServiceNames []string
	Verbose      bool // -v: every column
	// Endpoint prints only the endpoint of the single service named.
	Endpoint bool
	Output   cli.OutputFormat
}

// NewCmdStatus builds `stix serve status`. runF, when not nil, replaces the real run (the test seam).
func NewCmdStatus(f *cli.Factory, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IOStreams, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "status [flags] [SERVICE_NAME]...",
		Short: "Show services and their replicas",
		Long: "Show services (CONTROLLER_INIT, REPLICA_INIT, READY, NO_REPLICAS, SHUTTING_DOWN, FAILED, ...) and\n" +
			"their replicas (PENDING, PROVISIONING, STARTING, READY, NOT_READY, PREEMPTED, FAILED, ...).",
		Example: "  stix serve status\n  stix serve status -v llm\n  stix serve status --endpoint llm",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ServiceNames = args
			if opts.Endpoint && len(args) != 1 {
				return cli.FlagErrorf("--endpoint needs exactly one SERVICE_NAME, got %d", len(args))
			}
			if runF != nil {
				return runF(opts)
			}
			return statusRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.Verbose, "verbose", "v", false, "Show all information in full")
	fs.BoolVar(&opts.Endpoint, "endpoint", false, "Print only the service's endpoint")
	cli.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

func statusRun(opts *StatusOptions) error {
	return cli.NotImplemented("serve status")
}
