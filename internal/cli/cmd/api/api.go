// Package api builds `stix api`: run the stix API server, or point the CLI at one.
package api

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/cmd/api/cancel"
	"github.com/stix-run/stix/internal/cli/cmd/api/info"
	"github.com/stix-run/stix/internal/cli/cmd/api/login"
	"github.com/stix-run/stix/internal/cli/cmd/api/logs"
	"github.com/stix-run/stix/internal/cli/cmd/api/start"
	"github.com/stix-run/stix/internal/cli/cmd/api/status"
	"github.com/stix-run/stix/internal/cli/cmd/api/stop"
	"github.com/stix-run/stix/internal/cli/cmd/api/token"
)

// NewCmdAPI builds `stix api` and its verbs.
func NewCmdAPI(f *cli.Factory) *cobra.Command {
	return cli.NewGroup("api", "The stix API server: run one, or point the CLI at one", func() []*cobra.Command {
		return []*cobra.Command{
			start.NewCmdStart(f, nil),
			stop.NewCmdStop(f, nil),
			status.NewCmdStatus(f, nil),
			logs.NewCmdLogs(f, nil),
			cancel.NewCmdCancel(f, nil),
			login.NewCmdLogin(f, nil),
			login.NewCmdLogout(f, nil),
			info.NewCmdInfo(f, nil),
			token.NewCmdToken(f),
		}
	})
}
