package stixcmd

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/cmd/api"
	"github.com/stix-run/stix/internal/cli/cmd/autostop"
	"github.com/stix-run/stix/internal/cli/cmd/cancel"
	"github.com/stix-run/stix/internal/cli/cmd/check"
	"github.com/stix-run/stix/internal/cli/cmd/completion"
	"github.com/stix-run/stix/internal/cli/cmd/costreport"
	"github.com/stix-run/stix/internal/cli/cmd/dashboard"
	"github.com/stix-run/stix/internal/cli/cmd/down"
	"github.com/stix-run/stix/internal/cli/cmd/exec"
	"github.com/stix-run/stix/internal/cli/cmd/jobs"
	"github.com/stix-run/stix/internal/cli/cmd/launch"
	"github.com/stix-run/stix/internal/cli/cmd/local"
	"github.com/stix-run/stix/internal/cli/cmd/logs"
	"github.com/stix-run/stix/internal/cli/cmd/queue"
	"github.com/stix-run/stix/internal/cli/cmd/serve"
	"github.com/stix-run/stix/internal/cli/cmd/showgpus"
	"github.com/stix-run/stix/internal/cli/cmd/ssh"
	"github.com/stix-run/stix/internal/cli/cmd/start"
	"github.com/stix-run/stix/internal/cli/cmd/status"
	"github.com/stix-run/stix/internal/cli/cmd/stop"
	"github.com/stix-run/stix/internal/cli/cmd/storage"
	"github.com/stix-run/stix/internal/cli/cmd/validate"
	"github.com/stix-run/stix/internal/cli/cmd/volumes"
)

// NewRootCmd builds the whole stix command tree. Every verb is listed here, explicitly.
func NewRootCmd(f *cli.Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "stix",
		Short: "Run SkyPilot tasks on the cheapest infrastructure that fits",
		Long: "stix runs SkyPilot task YAMLs on this machine, your own hosts over SSH, Docker, Kubernetes,\n" +
			"Slurm or the public clouds. It reads the same YAML and takes the same commands as SkyPilot.",
		Version:       f.Version,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetVersionTemplate("stix version {{.Version}}\n")
	root.PersistentPreRunE = cli.RefuseUnbuiltFlags
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cli.FlagError{Err: err} })
	// Our own `completion` command replaces cobra's default, which would also offer powershell.
	root.CompletionOptions.DisableDefaultCmd = true

	groups := []struct {
		id, title string
		cmds      []*cobra.Command
	}{
		{"cluster", "Clusters and their jobs:", []*cobra.Command{
			launch.NewCmdLaunch(f, nil),
			exec.NewCmdExec(f, nil),
			status.NewCmdStatus(f, nil),
			queue.NewCmdQueue(f, nil),
			logs.NewCmdLogs(f, nil),
			cancel.NewCmdCancel(f, nil),
			start.NewCmdStart(f, nil),
			stop.NewCmdStop(f, nil),
			down.NewCmdDown(f, nil),
			autostop.NewCmdAutostop(f, nil),
			costreport.NewCmdCostReport(f, nil),
		}},
		{"managed", "Managed jobs, services and storage:", []*cobra.Command{
			jobs.NewCmdJobs(f),
			serve.NewCmdServe(f),
			storage.NewCmdStorage(f),
			volumes.NewCmdVolumes(),
		}},
		{"infra", "Infrastructure and setup:", []*cobra.Command{
			check.NewCmdCheck(f, nil),
			showgpus.NewCmdShowGPUs(f, nil),
			validate.NewCmdValidate(f, nil),
			ssh.NewCmdSSH(f),
			local.NewCmdLocal(),
			api.NewCmdAPI(f),
			dashboard.NewCmdDashboard(f, nil),
			completion.NewCmdCompletion(f, nil),
		}},
	}
	for _, g := range groups {
		root.AddGroup(&cobra.Group{ID: g.id, Title: g.title})
		for _, c := range g.cmds {
			c.GroupID = g.id
			root.AddCommand(c)
		}
	}
	root.SetHelpCommandGroupID("infra")
	return root
}

// isCobraUsageError recognises the argument errors cobra builds itself (unknown command, wrong arg count).
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "unknown flag", "unknown shorthand flag"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
