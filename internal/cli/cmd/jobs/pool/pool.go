// Package pool builds `stix jobs pool`: pools of workers that managed jobs are submitted to with --pool
// (SkyPilot's pools).
package pool

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/cmd/jobs/pool/apply"
	"github.com/stix-run/stix/internal/cli/cmd/jobs/pool/down"
	"github.com/stix-run/stix/internal/cli/cmd/jobs/pool/logs"
	"github.com/stix-run/stix/internal/cli/cmd/jobs/pool/status"
)

// NewCmdPool builds `stix jobs pool` and its verbs.
func NewCmdPool(f *cli.Factory) *cobra.Command {
	return cli.NewGroup("pool", "Pools of workers for managed jobs", func() []*cobra.Command {
		return []*cobra.Command{
			apply.NewCmdApply(f, nil),
			status.NewCmdStatus(f, nil),
			down.NewCmdDown(f, nil),
			logs.NewCmdLogs(f, nil),
		}
	})
}
