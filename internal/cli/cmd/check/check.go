// Package check implements `stix check`: which infrastructure is usable with the credentials at hand.
package check

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// CheckOptions are the parsed flags and arguments of `stix check`.
type CheckOptions struct {
	IO *cli.IOStreams

	// Infra names the clouds or infra to check (aws, gcp, k8s, ssh, local, ...); empty checks them all.
	Infra     []string
	Verbose   bool   // -v: also show the active account of each cloud
	Workspace string // -w: check only this workspace
}

// NewCmdCheck builds `stix check`. runF, when not nil, replaces the real run (the test seam).
func NewCmdCheck(f *cli.Factory, runF func(*CheckOptions) error) *cobra.Command {
	opts := &CheckOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "check [flags] [INFRA]...",
		Short: "Check which clouds and infrastructure are usable",
		Long: "Check the credentials of every supported cloud and infrastructure (or only those named) and say,\n" +
			"for each one that is not usable, why and how to fix it. The result is cached and limits where\n" +
			"tasks may run.",
		Example: "  stix check\n  stix check aws gcp\n  stix check -v k8s",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Infra = args
			if runF != nil {
				return runF(opts)
			}
			return checkRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.Verbose, "verbose", "v", false, "Show the active account of each cloud")
	fs.StringVarP(&opts.Workspace, "workspace", "w", "", "Check only this workspace")
	return cmd
}

func checkRun(opts *CheckOptions) error {
	return cli.NotImplemented("check")
}
