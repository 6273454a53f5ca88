package stixcmd

import (
	"slices"
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

// verb is one top-level command: the group it is listed under in help, the names a command line can call it by
// (its name first, then its aliases: TestVerbNames checks them against the command), and how to build it.
type verb struct {
	group string
	names []string
	build func() *cobra.Command
}

// verbs lists every top-level command, explicitly, in help order.
func verbs(f *cli.Factory) []verb {
	return []verb{
		{"cluster", []string{"launch"}, func() *cobra.Command { return launch.NewCmdLaunch(f, nil) }},
		{"cluster", []string{"exec"}, func() *cobra.Command { return exec.NewCmdExec(f, nil) }},
		{"cluster", []string{"status"}, func() *cobra.Command { return status.NewCmdStatus(f, nil) }},
		{"cluster", []string{"queue"}, func() *cobra.Command { return queue.NewCmdQueue(f, nil) }},
		{"cluster", []string{"logs"}, func() *cobra.Command { return logs.NewCmdLogs(f, nil) }},
		{"cluster", []string{"cancel"}, func() *cobra.Command { return cancel.NewCmdCancel(f, nil) }},
		{"cluster", []string{"start"}, func() *cobra.Command { return start.NewCmdStart(f, nil) }},
		{"cluster", []string{"stop"}, func() *cobra.Command { return stop.NewCmdStop(f, nil) }},
		{"cluster", []string{"down"}, func() *cobra.Command { return down.NewCmdDown(f, nil) }},
		{"cluster", []string{"autostop"}, func() *cobra.Command { return autostop.NewCmdAutostop(f, nil) }},
		{"cluster", []string{"cost-report"}, func() *cobra.Command { return costreport.NewCmdCostReport(f, nil) }},
		{"managed", []string{"jobs"}, func() *cobra.Command { return jobs.NewCmdJobs(f) }},
		{"managed", []string{"serve"}, func() *cobra.Command { return serve.NewCmdServe(f) }},
		{"managed", []string{"storage"}, func() *cobra.Command { return storage.NewCmdStorage(f) }},
		{"managed", []string{"volumes", "volume"}, volumes.NewCmdVolumes},
		{"infra", []string{"check"}, func() *cobra.Command { return check.NewCmdCheck(f, nil) }},
		{"infra", []string{"show-gpus"}, func() *cobra.Command { return showgpus.NewCmdShowGPUs(f, nil) }},
		{"infra", []string{"validate"}, func() *cobra.Command { return validate.NewCmdValidate(f, nil) }},
		{"infra", []string{"ssh"}, func() *cobra.Command { return ssh.NewCmdSSH(f) }},
		{"infra", []string{"local"}, local.NewCmdLocal},
		{"infra", []string{"api"}, func() *cobra.Command { return api.NewCmdAPI(f) }},
		{"infra", []string{"dashboard", "ui"}, func() *cobra.Command { return dashboard.NewCmdDashboard(f, nil) }},
		{"infra", []string{"completion"}, func() *cobra.Command { return completion.NewCmdCompletion(f, nil) }},
	}
}

// groups are the headings of the root help, in order.
var groups = []cobra.Group{
	{ID: "cluster", Title: "Clusters and their jobs:"},
	{ID: "managed", Title: "Managed jobs, services and storage:"},
	{ID: "infra", Title: "Infrastructure and setup:"},
}

// NewRootCmd builds the whole stix command tree, every verb of every noun included (docs and tests walk it).
func NewRootCmd(f *cli.Factory) *cobra.Command {
	root := newRoot(f, nil)
	cli.ExpandAll(root)
	return root
}

// newRoot builds the root command with the top-level verbs that a command line needs: when args start with a
// verb's name, that verb alone (so that `stix status` does not pay for registering every other verb's flags);
// otherwise, e.g. for `--help`, help, completion or a mistyped verb, all of them. Nouns get their verbs later,
// from cli.Expand.
func newRoot(f *cli.Factory, args []string) *cobra.Command {
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
	for _, g := range groups {
		root.AddGroup(&g)
	}
	all := verbs(f)
	if v, ok := named(all, args); ok {
		all = []verb{v}
	}
	for _, v := range all {
		c := v.build()
		c.GroupID = v.group
		root.AddCommand(c)
	}
	root.SetHelpCommandGroupID("infra")
	return root
}

// named returns the verb that args call when their first word is one of its names. Completion is left out: it
// wants the whole tree (see expandFor).
func named(vs []verb, args []string) (verb, bool) {
	if len(args) == 0 || args[0] == "completion" {
		return verb{}, false
	}
	for _, v := range vs {
		if slices.Contains(v.names, args[0]) {
			return v, true
		}
	}
	return verb{}, false
}

// expandFor builds the nouns' verbs that args reach: those on args' path, or, for cobra's own help and completion
// commands (which look the path up themselves), on the path after them; everything for `stix completion`.
func expandFor(root *cobra.Command, args []string) {
	switch {
	case len(args) > 0 && args[0] == "completion":
		cli.ExpandAll(root)
	case len(args) > 0 && slices.Contains([]string{"help", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd}, args[0]):
		cli.Expand(root, args[1:])
	default:
		cli.Expand(root, args)
	}
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
