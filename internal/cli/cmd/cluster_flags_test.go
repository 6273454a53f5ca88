package cmd_test

import (
	"testing"

	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/cmd/autostop"
	"github.com/stix-run/stix/internal/cli/cmd/cancel"
	"github.com/stix-run/stix/internal/cli/cmd/check"
	"github.com/stix-run/stix/internal/cli/cmd/completion"
	"github.com/stix-run/stix/internal/cli/cmd/costreport"
	"github.com/stix-run/stix/internal/cli/cmd/dashboard"
	"github.com/stix-run/stix/internal/cli/cmd/down"
	"github.com/stix-run/stix/internal/cli/cmd/exec"
	"github.com/stix-run/stix/internal/cli/cmd/launch"
	"github.com/stix-run/stix/internal/cli/cmd/logs"
	"github.com/stix-run/stix/internal/cli/cmd/queue"
	"github.com/stix-run/stix/internal/cli/cmd/showgpus"
	"github.com/stix-run/stix/internal/cli/cmd/start"
	"github.com/stix-run/stix/internal/cli/cmd/status"
	"github.com/stix-run/stix/internal/cli/cmd/stop"
	"github.com/stix-run/stix/internal/cli/taskflags"
	"github.com/stix-run/stix/internal/spec"
)

func TestLaunchFlags(t *testing.T) {
	t.Parallel()
	withGPUs := yamlTask("testdata/task.yaml")
	withGPUs.Overrides = spec.Overrides{Accelerators: ptr("A100:1"), UseSpot: ptr(true)}
	withGPUs.Env = map[string]string{"WANDB_API_KEY": "k-123"}
	runFlagCases(t, launch.NewCmdLaunch, []flagCase[launch.LaunchOptions]{
		{name: "no entrypoint", args: nil, want: launch.LaunchOptions{Output: cli.OutputTable}},
		{name: "yaml with cluster and short flags", args: []string{"-c", "dev", "-y", "-d", "-s", "-r", "-i", "30", "--down", "testdata/task.yaml"},
			want: launch.LaunchOptions{Output: cli.OutputTable, Task: yamlTask("testdata/task.yaml"), Cluster: "dev", Yes: true, DetachRun: true,
				DetachSetup: true, RetryUntilUp: true, IdleMinutesToAutostop: ptr(30), Down: true}},
		{name: "long flags", args: []string{"--cluster=dev", "--dryrun", "--fast", "--no-setup", "--clone-disk-from", "old",
			"--wait-for", "jobs", "--idle-minutes-to-autostop", "0", "--async", "echo", "hi"},
			want: launch.LaunchOptions{Output: cli.OutputTable, Task: cmdTask("echo hi"), Cluster: "dev", DryRun: true, Fast: true, NoSetup: true,
				CloneDiskFrom: "old", WaitFor: "jobs", IdleMinutesToAutostop: ptr(0), Async: true}},
		{name: "dry run as json", args: []string{"--dryrun", "-o", "json", "echo"},
			want: launch.LaunchOptions{Output: cli.OutputJSON, Task: cmdTask("echo"), DryRun: true}},
		{name: "task flags", args: []string{"--gpus", "A100:1", "--use-spot", "--env", "WANDB_API_KEY", "testdata/task.yaml"},
			want: launch.LaunchOptions{Output: cli.OutputTable, Task: withGPUs}},
		{name: "inline command after --", args: []string{"-c", "dev", "--", "python", "train.py", "-n", "3"},
			want: launch.LaunchOptions{Output: cli.OutputTable, Cluster: "dev", Task: cmdTask("python train.py -n 3")}},
		{name: "git workdir", args: []string{"--git-url", "https://example.com/r.git", "--git-ref", "v1", "echo"},
			want: launch.LaunchOptions{Output: cli.OutputTable, Task: func() taskflags.Task {
				t := cmdTask("echo")
				t.Overrides.GitURL, t.Overrides.GitRef = ptr("https://example.com/r.git"), ptr("v1")
				return t
			}()}},
		{name: "git url with workdir", args: []string{"--git-url", "https://example.com/r.git", "--workdir", ".", "echo"},
			wantErr: "cannot use --git-url together with --workdir"},
		{name: "missing yaml", args: []string{"nope.yaml"}, wantErr: "nope.yaml does not exist"},
		{name: "negative idle minutes", args: []string{"-i", "-1"}, wantErr: "0 or more"},
		{name: "bad wait-for", args: []string{"--wait-for", "never"}, wantErr: "jobs_and_ssh"},
		{name: "unknown flag", args: []string{"--bogus"}, wantErr: "unknown flag"},
	})
}

func TestExecFlags(t *testing.T) {
	t.Parallel()
	runFlagCases(t, exec.NewCmdExec, []flagCase[exec.ExecOptions]{
		{name: "cluster and command", args: []string{"dev", "python", "train.py"},
			want: exec.ExecOptions{Cluster: "dev", Task: cmdTask("python train.py")}},
		{name: "cluster and yaml, detached", args: []string{"-d", "dev", "testdata/task.yaml"},
			want: exec.ExecOptions{Cluster: "dev", DetachRun: true, Task: yamlTask("testdata/task.yaml")}},
		{name: "hidden -c takes the cluster", args: []string{"-c", "dev", "echo", "hi"},
			want: exec.ExecOptions{Cluster: "dev", Task: cmdTask("echo hi")}},
		{name: "no arguments", args: nil, wantErr: "missing argument CLUSTER"},
		{name: "no entrypoint", args: []string{"dev"}, wantErr: "missing argument ENTRYPOINT"},
	})
}

func TestStatusFlags(t *testing.T) {
	t.Parallel()
	def := status.StatusOptions{ShowManagedJobs: true, ShowServices: true, ShowPools: true, Output: cli.OutputTable}
	with := func(edit func(*status.StatusOptions)) status.StatusOptions { o := def; edit(&o); return o }
	runFlagCases(t, status.NewCmdStatus, []flagCase[status.StatusOptions]{
		{name: "defaults", args: nil, want: def},
		{name: "refresh, all users, json", args: []string{"-r", "-u", "-o", "json", "dev", "test-*"},
			want: with(func(o *status.StatusOptions) {
				o.Refresh, o.AllUsers, o.Output, o.Clusters = true, true, cli.OutputJSON, []string{"dev", "test-*"}
			})},
		{name: "-a is verbose", args: []string{"-a"}, want: with(func(o *status.StatusOptions) { o.Verbose = true })},
		{name: "ip of one cluster", args: []string{"--ip", "dev"},
			want: with(func(o *status.StatusOptions) { o.IP, o.Clusters = true, []string{"dev"} })},
		{name: "endpoint port", args: []string{"--endpoint", "8888", "dev"},
			want: with(func(o *status.StatusOptions) { o.Endpoint, o.Clusters = ptr(8888), []string{"dev"} })},
		{name: "hide managed jobs and services", args: []string{"--no-show-managed-jobs", "--no-show-services"},
			want: with(func(o *status.StatusOptions) { o.ShowManagedJobs, o.ShowServices = false, false })},
		{name: "ip needs one cluster", args: []string{"--ip"}, wantErr: "exactly one CLUSTER"},
		{name: "ip with refresh", args: []string{"--ip", "-r", "dev"}, wantErr: "--refresh"},
		{name: "endpoint and endpoints", args: []string{"--endpoints", "--endpoint", "80", "dev"}, wantErr: "only one"},
		{name: "bad output", args: []string{"-o", "yaml"}, wantErr: "table or json"},
	})
}

func TestQueueFlags(t *testing.T) {
	t.Parallel()
	runFlagCases(t, queue.NewCmdQueue, []flagCase[queue.QueueOptions]{
		{name: "defaults", want: queue.QueueOptions{Output: cli.OutputTable}},
		{name: "skip finished, all users", args: []string{"-s", "-u", "dev"},
			want: queue.QueueOptions{Clusters: []string{"dev"}, SkipFinished: true, AllUsers: true, Output: cli.OutputTable}},
		{name: "older -a means all users", args: []string{"-a"}, want: queue.QueueOptions{AllUsers: true, Output: cli.OutputTable}},
		{name: "json", args: []string{"-o", "json"}, want: queue.QueueOptions{Output: cli.OutputJSON}},
	})
}

func TestLogsFlags(t *testing.T) {
	t.Parallel()
	runFlagCases(t, logs.NewCmdLogs, []flagCase[logs.LogsOptions]{
		{name: "latest job", args: []string{"dev"}, want: logs.LogsOptions{Cluster: "dev", Follow: true}},
		{name: "one job, no follow, tail", args: []string{"dev", "3", "--no-follow", "--tail", "100"},
			want: logs.LogsOptions{Cluster: "dev", JobIDs: []int{3}, Tail: 100}},
		{name: "status", args: []string{"--status", "dev", "3"},
			want: logs.LogsOptions{Cluster: "dev", JobIDs: []int{3}, Status: true, Follow: true}},
		{name: "sync down several", args: []string{"-s", "dev", "1", "2"},
			want: logs.LogsOptions{Cluster: "dev", JobIDs: []int{1, 2}, SyncDown: true, Follow: true}},
		{name: "provision log of a worker", args: []string{"--provision", "-w", "2", "dev"},
			want: logs.LogsOptions{Cluster: "dev", Provision: true, Worker: ptr(2), Follow: true}},
		{name: "no cluster", args: nil, wantErr: "missing argument CLUSTER"},
		{name: "job id not a number", args: []string{"dev", "x"}, wantErr: `"x"`},
		{name: "several jobs without sync-down", args: []string{"dev", "1", "2"}, wantErr: "--sync-down"},
		{name: "status and sync-down", args: []string{"--status", "-s", "dev"}, wantErr: "only one"},
		{name: "worker without provision", args: []string{"-w", "1", "dev"}, wantErr: "--provision"},
	})
}

func TestCancelFlags(t *testing.T) {
	t.Parallel()
	runFlagCases(t, cancel.NewCmdCancel, []flagCase[cancel.CancelOptions]{
		{name: "latest job", args: []string{"dev"}, want: cancel.CancelOptions{Cluster: "dev"}},
		{name: "job ids", args: []string{"dev", "1", "2", "-y"}, want: cancel.CancelOptions{Cluster: "dev", JobIDs: []int{1, 2}, Yes: true}},
		{name: "all, all users, async", args: []string{"dev-*", "-a", "-u", "--async"},
			want: cancel.CancelOptions{Cluster: "dev-*", All: true, AllUsers: true, Async: true}},
		{name: "no cluster", args: nil, wantErr: "missing argument CLUSTER"},
	})
}

func TestStopDownFlags(t *testing.T) {
	t.Parallel()
	runFlagCases(t, stop.NewCmdStop, []flagCase[stop.StopOptions]{
		{name: "names and globs", args: []string{"dev", "test-*", "-y"}, want: stop.StopOptions{Clusters: []string{"dev", "test-*"}, Yes: true}},
		{name: "all", args: []string{"-a"}, want: stop.StopOptions{All: true}},
		{name: "all users", args: []string{"--all-users"}, want: stop.StopOptions{AllUsers: true}},
		{name: "nothing named", args: nil, wantErr: "-a/--all"},
	})
	runFlagCases(t, down.NewCmdDown, []flagCase[down.DownOptions]{
		{name: "purge", args: []string{"dev", "-p", "-y"}, want: down.DownOptions{Clusters: []string{"dev"}, Purge: true, Yes: true}},
		{name: "all async", args: []string{"-a", "--async"}, want: down.DownOptions{All: true, Async: true}},
		{name: "nothing named", args: nil, wantErr: "-a/--all"},
	})
}

func TestStartFlags(t *testing.T) {
	t.Parallel()
	runFlagCases(t, start.NewCmdStart, []flagCase[start.StartOptions]{
		{name: "the only cluster", args: nil, want: start.StartOptions{}},
		{name: "autodown", args: []string{"dev", "-i", "30", "--down", "-r", "-f", "-y", "--wait-for", "none"},
			want: start.StartOptions{Clusters: []string{"dev"}, IdleMinutesToAutostop: ptr(30), Down: true, RetryUntilUp: true,
				Force: true, Yes: true, WaitFor: "none"}},
		{name: "all", args: []string{"-a"}, want: start.StartOptions{All: true}},
		{name: "down needs -i", args: []string{"dev", "--down"}, wantErr: "--down needs"},
	})
}

func TestAutostopFlags(t *testing.T) {
	t.Parallel()
	runFlagCases(t, autostop.NewCmdAutostop, []flagCase[autostop.AutostopOptions]{
		{name: "default idle minutes", args: []string{"dev"}, want: autostop.AutostopOptions{Clusters: []string{"dev"}, IdleMinutes: 5}},
		{name: "autodown after an hour", args: []string{"dev", "-i", "60", "--down", "-y"},
			want: autostop.AutostopOptions{Clusters: []string{"dev"}, IdleMinutes: 60, Down: true, Yes: true}},
		{name: "cancel", args: []string{"-a", "--cancel"}, want: autostop.AutostopOptions{All: true, Cancel: true, IdleMinutes: -1}},
		{name: "hard limit", args: []string{"-u", "-i", "10", "--wait-for", "none"},
			want: autostop.AutostopOptions{AllUsers: true, IdleMinutes: 10, WaitFor: "none"}},
		{name: "cancel with -i", args: []string{"dev", "--cancel", "-i", "5"}, wantErr: "only one"},
		{name: "nothing named", args: []string{"-i", "5"}, wantErr: "-a/--all"},
	})
}

func TestCostReportFlags(t *testing.T) {
	t.Parallel()
	runFlagCases(t, costreport.NewCmdCostReport, []flagCase[costreport.CostReportOptions]{
		{name: "defaults", want: costreport.CostReportOptions{Days: 30, Output: cli.OutputTable}},
		{name: "all history", args: []string{"-a", "--days", "0", "-o", "json"},
			want: costreport.CostReportOptions{All: true, Days: 0, Output: cli.OutputJSON}},
		{name: "negative days", args: []string{"--days", "-1"}, wantErr: "--days"},
		{name: "no arguments", args: []string{"dev"}, wantErr: "unknown command"},
	})
}

func TestShowGPUsFlags(t *testing.T) {
	t.Parallel()
	runFlagCases(t, showgpus.NewCmdShowGPUs, []flagCase[showgpus.ShowGPUsOptions]{
		{name: "common accelerators", want: showgpus.ShowGPUsOptions{Output: cli.OutputTable}},
		{name: "name and count", args: []string{"A100:8", "--infra", "aws"},
			want: showgpus.ShowGPUsOptions{Accelerator: "A100", Count: 8, Infra: "aws", Output: cli.OutputTable}},
		{name: "all regions", args: []string{"H100", "--all-regions"},
			want: showgpus.ShowGPUsOptions{Accelerator: "H100", AllRegions: true, Output: cli.OutputTable}},
		{name: "all", args: []string{"-a"}, want: showgpus.ShowGPUsOptions{All: true, Output: cli.OutputTable}},
		{name: "deprecated cloud and region", args: []string{"--cloud", "gcp", "--region", "us-central1"},
			want: showgpus.ShowGPUsOptions{Infra: "gcp/us-central1", Output: cli.OutputTable}},
		{name: "bad count", args: []string{"A100:x"}, wantErr: "COUNT"},
		{name: "all regions without accelerator", args: []string{"--all-regions"}, wantErr: "needs an ACCELERATOR"},
		{name: "all with accelerator", args: []string{"-a", "A100"}, wantErr: "takes no ACCELERATOR"},
		{name: "two accelerators", args: []string{"A100", "H100"}, wantErr: "too many arguments"},
	})
}

func TestCheckDashboardCompletionFlags(t *testing.T) {
	t.Parallel()
	runFlagCases(t, check.NewCmdCheck, []flagCase[check.CheckOptions]{
		{name: "everything", want: check.CheckOptions{}},
		{name: "some infra, verbose", args: []string{"aws", "k8s", "-v", "-w", "team"},
			want: check.CheckOptions{Infra: []string{"aws", "k8s"}, Verbose: true, Workspace: "team"}},
	})
	runFlagCases(t, dashboard.NewCmdDashboard, []flagCase[dashboard.DashboardOptions]{
		{name: "no arguments", want: dashboard.DashboardOptions{}},
		{name: "extra argument", args: []string{"x"}, wantErr: "unknown command"},
	})
	got, err := parse(completion.NewCmdCompletion, "zsh", "--no-descriptions")
	if err != nil || got.Shell != "zsh" || !got.NoDescriptions || got.Root == nil {
		t.Errorf("completion zsh: got %+v, %v", got, err)
	}
	if _, err := parse(completion.NewCmdCompletion); err == nil {
		t.Error("completion without a shell: no error")
	}
}
