// Package jobs builds `stix jobs`, the managed jobs noun: jobs that a controller relaunches after preemption
// or failure.
package jobs

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/cmd/dashboard"
	"github.com/stix-run/stix/internal/cli/cmd/jobs/cancel"
	"github.com/stix-run/stix/internal/cli/cmd/jobs/launch"
	"github.com/stix-run/stix/internal/cli/cmd/jobs/logs"
	"github.com/stix-run/stix/internal/cli/cmd/jobs/pool"
	"github.com/stix-run/stix/internal/cli/cmd/jobs/queue"
)

// NewCmdJobs builds `stix jobs` and its verbs.
func NewCmdJobs(f *cli.Factory) *cobra.Command {
	return cli.NewGroup("jobs", "Managed jobs: jobs that recover from preemption and failure", func() []*cobra.Command {
		return []*cobra.Command{
			launch.NewCmdLaunch(f, nil),
			queue.NewCmdQueue(f, nil),
			cancel.NewCmdCancel(f, nil),
			logs.NewCmdLogs(f, nil),
			dashboard.NewCmdJobsDashboard(f, nil),
			pool.NewCmdPool(f),
		}
	})
}
