// Package serve builds `stix serve`, the SkyServe noun: services of replicas behind a load balancer.
package serve

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/cmd/serve/down"
	"github.com/stix-run/stix/internal/cli/cmd/serve/logs"
	"github.com/stix-run/stix/internal/cli/cmd/serve/status"
	"github.com/stix-run/stix/internal/cli/cmd/serve/up"
	"github.com/stix-run/stix/internal/cli/cmd/serve/update"
)

// NewCmdServe builds `stix serve` and its verbs.
func NewCmdServe(f *cli.Factory) *cobra.Command {
	return cli.NewGroup("serve", "Services: replicas behind a load balancer, autoscaled", func() []*cobra.Command {
		return []*cobra.Command{
			up.NewCmdUp(f, nil),
			update.NewCmdUpdate(f, nil),
			status.NewCmdStatus(f, nil),
			down.NewCmdDown(f, nil),
			logs.NewCmdLogs(f, nil),
		}
	})
}
