package cmd_test

import (
	"testing"

	"github.com/stix-run/stix/internal/cli"
	apicancel "github.com/stix-run/stix/internal/cli/cmd/api/cancel"
	apiinfo "github.com/stix-run/stix/internal/cli/cmd/api/info"
	apilogin "github.com/stix-run/stix/internal/cli/cmd/api/login"
	apilogs "github.com/stix-run/stix/internal/cli/cmd/api/logs"
	apistart "github.com/stix-run/stix/internal/cli/cmd/api/start"
	apistatus "github.com/stix-run/stix/internal/cli/cmd/api/status"
	apistop "github.com/stix-run/stix/internal/cli/cmd/api/stop"
	jobscancel "github.com/stix-run/stix/internal/cli/cmd/jobs/cancel"
	jobslaunch "github.com/stix-run/stix/internal/cli/cmd/jobs/launch"
	jobslogs "github.com/stix-run/stix/internal/cli/cmd/jobs/logs"
	jobsqueue "github.com/stix-run/stix/internal/cli/cmd/jobs/queue"
	servedown "github.com/stix-run/stix/internal/cli/cmd/serve/down"
	servelogs "github.com/stix-run/stix/internal/cli/cmd/serve/logs"
	servestatus "github.com/stix-run/stix/internal/cli/cmd/serve/status"
	serveup "github.com/stix-run/stix/internal/cli/cmd/serve/up"
	serveupdate "github.com/stix-run/stix/internal/cli/cmd/serve/update"
	sshdown "github.com/stix-run/stix/internal/cli/cmd/ssh/down"
	sshup "github.com/stix-run/stix/internal/cli/cmd/ssh/up"
	storagedelete "github.com/stix-run/stix/internal/cli/cmd/storage/delete"
	storagels "github.com/stix-run/stix/internal/cli/cmd/storage/ls"
	"github.com/stix-run/stix/internal/cli/taskflags"
	"github.com/stix-run/stix/internal/spec"
)

func TestJobsLaunchFlags(t *testing.T) {
	t.Parallel()
	named := yamlTask("testdata/task.yaml")
	named.Overrides = spec.Overrides{Name: ptr("train"), UseSpot: ptr(true)}
	byCluster := cmdTask("echo hi")
	byCluster.Overrides.Name = ptr("train")
	runFlagCases(t, jobslaunch.NewCmdLaunch, []flagCase[jobslaunch.LaunchOptions]{
		{name: "yaml", args: []string{"testdata/task.yaml"}, want: jobslaunch.LaunchOptions{Task: yamlTask("testdata/task.yaml")}},
		{name: "name, spot, detach, recovery", args: []string{"-n", "train", "--use-spot", "-d", "-y", "--job-recovery", "FAILOVER", "testdata/task.yaml"},
			want: jobslaunch.LaunchOptions{Task: named, DetachRun: true, Yes: true, JobRecovery: "FAILOVER"}},
		{name: "-c is the job name", args: []string{"-c", "train", "echo", "hi"}, want: jobslaunch.LaunchOptions{Task: byCluster}},
		{name: "pool", args: []string{"-p", "workers", "--num-jobs", "4", "echo", "hi"},
			want: jobslaunch.LaunchOptions{Task: cmdTask("echo hi"), Pool: "workers", NumJobs: ptr(4)}},
		{name: "dry run of a pipeline", args: []string{"--dryrun", "testdata/task.yaml"},
			want: jobslaunch.LaunchOptions{Task: yamlTask("testdata/task.yaml"), DryRun: true}},
		{name: "async, env", args: []string{"--async", "--env", "WANDB_API_KEY", "echo", "hi"},
			want: jobslaunch.LaunchOptions{Task: withEnv(cmdTask("echo hi"), "WANDB_API_KEY", "k-123"), Async: true}},
		{name: "recovery strategy in any case", args: []string{"--job-recovery", "failover", "echo"},
			want: jobslaunch.LaunchOptions{Task: cmdTask("echo"), JobRecovery: "FAILOVER"}},
		{name: "unknown recovery strategy", args: []string{"--job-recovery", "SOMETIMES", "echo"}, wantErr: "expected one of EAGER_NEXT_REGION, FAILOVER"},
		{name: "dry run is not async", args: []string{"--dryrun", "--async", "echo"}, wantErr: "--dryrun launches nothing"},
		{name: "no entrypoint", args: nil, wantErr: "missing argument ENTRYPOINT"},
		{name: "num-jobs needs pool", args: []string{"--num-jobs", "2", "echo"}, wantErr: "--pool"},
		{name: "name and cluster differ", args: []string{"-n", "a", "-c", "b", "echo"}, wantErr: "give only one"},
	})
}

func withEnv(t taskflags.Task, k, v string) taskflags.Task {
	t.Env = map[string]string{k: v}
	return t
}

func TestJobsQueueFlags(t *testing.T) {
	t.Parallel()
	runFlagCases(t, jobsqueue.NewCmdQueue, []flagCase[jobsqueue.QueueOptions]{
		{name: "defaults", want: jobsqueue.QueueOptions{Limit: 50, Output: cli.OutputTable}},
		{name: "everything", args: []string{"-v", "-r", "-s", "-u", "-l", "10", "-o", "json"},
			want: jobsqueue.QueueOptions{Verbose: true, Refresh: true, SkipFinished: true, AllUsers: true, Limit: 10, Output: cli.OutputJSON}},
		{name: "all lifts the limit", args: []string{"-a"}, want: jobsqueue.QueueOptions{Limit: 0, Output: cli.OutputTable}},
		{name: "zero limit", args: []string{"-l", "0"}, wantErr: "--limit"},
	})
}

func TestJobsCancelFlags(t *testing.T) {
	t.Parallel()
	runFlagCases(t, jobscancel.NewCmdCancel, []flagCase[jobscancel.CancelOptions]{
		{name: "ids", args: []string{"1", "2", "-y"}, want: jobscancel.CancelOptions{JobIDs: []int{1, 2}, Yes: true}},
		{name: "name", args: []string{"-n", "train"}, want: jobscancel.CancelOptions{Name: "train"}},
		{name: "pool", args: []string{"-p", "workers"}, want: jobscancel.CancelOptions{Pool: "workers"}},
		{name: "all users", args: []string{"-u"}, want: jobscancel.CancelOptions{AllUsers: true}},
		{name: "nothing", args: nil, wantErr: "exactly one"},
		{name: "ids and name", args: []string{"1", "-n", "x"}, wantErr: "exactly one"},
	})
}

func TestJobsLogsFlags(t *testing.T) {
	t.Parallel()
	runFlagCases(t, jobslogs.NewCmdLogs, []flagCase[jobslogs.LogsOptions]{
		{name: "latest", want: jobslogs.LogsOptions{Follow: true}},
		{name: "controller log of a job", args: []string{"--controller", "--no-follow", "3"},
			want: jobslogs.LogsOptions{JobID: ptr(3), Controller: true}},
		{name: "by name, sync down", args: []string{"-n", "train", "-s", "-r"},
			want: jobslogs.LogsOptions{Name: "train", SyncDown: true, Refresh: true, Follow: true}},
		{name: "status", args: []string{"--status", "4"}, want: jobslogs.LogsOptions{JobID: ptr(4), Status: true, Follow: true}},
		{name: "status is not the controller's", args: []string{"--status", "--controller", "4"}, wantErr: "--status cannot"},
		{name: "id and name", args: []string{"-n", "train", "3"}, wantErr: "only one"},
		{name: "two ids", args: []string{"1", "2"}, wantErr: "too many arguments"},
	})
}

func TestServeFlags(t *testing.T) {
	t.Parallel()
	svc := yamlTask("testdata/service.yaml")
	svcGPU := svc
	svcGPU.Overrides = spec.Overrides{Accelerators: ptr("L4:1")}
	runFlagCases(t, serveup.NewCmdUp, []flagCase[serveup.UpOptions]{
		{name: "yaml", args: []string{"testdata/service.yaml"}, want: serveup.UpOptions{Task: svc}},
		{name: "-n is the service name", args: []string{"-n", "llm", "--gpus", "L4:1", "-y", "testdata/service.yaml"},
			want: serveup.UpOptions{Task: svcGPU, ServiceName: "llm", Yes: true}},
		{name: "a command is not a service", args: []string{"python", "app.py"}, wantErr: "must be a YAML file"},
		{name: "no yaml", args: nil, wantErr: "missing argument SERVICE_YAML"},
	})
	runFlagCases(t, serveupdate.NewCmdUpdate, []flagCase[serveupdate.UpdateOptions]{
		{name: "rolling by default", args: []string{"llm", "testdata/service.yaml"},
			want: serveupdate.UpdateOptions{ServiceName: "llm", Task: svc, Mode: "rolling"}},
		{name: "blue green", args: []string{"--mode", "blue_green", "-y", "llm", "testdata/service.yaml"},
			want: serveupdate.UpdateOptions{ServiceName: "llm", Task: svc, Mode: "blue_green", Yes: true}},
		{name: "bad mode", args: []string{"--mode", "canary", "llm", "testdata/service.yaml"}, wantErr: "rolling, blue_green"},
		{name: "no yaml", args: []string{"llm"}, wantErr: "missing argument"},
	})
	runFlagCases(t, servestatus.NewCmdStatus, []flagCase[servestatus.StatusOptions]{
		{name: "all services", want: servestatus.StatusOptions{Output: cli.OutputTable}},
		{name: "endpoint of one", args: []string{"--endpoint", "llm"},
			want: servestatus.StatusOptions{ServiceNames: []string{"llm"}, Endpoint: true, Output: cli.OutputTable}},
		{name: "endpoint of none", args: []string{"--endpoint"}, wantErr: "exactly one SERVICE_NAME"},
	})
	runFlagCases(t, servedown.NewCmdDown, []flagCase[servedown.DownOptions]{
		{name: "names", args: []string{"llm", "svc-*", "-y"}, want: servedown.DownOptions{ServiceNames: []string{"llm", "svc-*"}, Yes: true}},
		{name: "one replica, purge", args: []string{"llm", "--replica-id", "1", "-p"},
			want: servedown.DownOptions{ServiceNames: []string{"llm"}, ReplicaID: ptr(1), Purge: true}},
		{name: "all", args: []string{"-a"}, want: servedown.DownOptions{All: true}},
		{name: "names and all", args: []string{"llm", "-a"}, wantErr: "exactly one"},
		{name: "replica of two services", args: []string{"a", "b", "--replica-id", "1"}, wantErr: "exactly one SERVICE_NAME"},
	})
	runFlagCases(t, servelogs.NewCmdLogs, []flagCase[servelogs.LogsOptions]{
		{name: "controller", args: []string{"--controller", "llm"}, want: servelogs.LogsOptions{ServiceName: "llm", Controller: true, Follow: true}},
		{name: "a replica, tail turns follow off", args: []string{"llm", "1", "--tail", "100"},
			want: servelogs.LogsOptions{ServiceName: "llm", ReplicaIDs: []int{1}, Tail: ptr(100)}},
		{name: "sync down several", args: []string{"-s", "llm", "1", "3", "--controller"},
			want: servelogs.LogsOptions{ServiceName: "llm", ReplicaIDs: []int{1, 3}, Controller: true, SyncDown: true, Follow: true}},
		{name: "no target", args: []string{"llm"}, wantErr: "name what to tail"},
		{name: "two targets", args: []string{"--controller", "--load-balancer", "llm"}, wantErr: "only one"},
	})
}

func TestStorageFlags(t *testing.T) {
	t.Parallel()
	runFlagCases(t, storagels.NewCmdLs, []flagCase[storagels.LsOptions]{
		{name: "defaults", want: storagels.LsOptions{Output: cli.OutputTable}},
		{name: "verbose json", args: []string{"-v", "-o", "json"}, want: storagels.LsOptions{Verbose: true, Output: cli.OutputJSON}},
	})
	runFlagCases(t, storagedelete.NewCmdDelete, []flagCase[storagedelete.DeleteOptions]{
		{name: "names", args: []string{"imagenet*", "-y"}, want: storagedelete.DeleteOptions{Names: []string{"imagenet*"}, Yes: true}},
		{name: "all", args: []string{"-a"}, want: storagedelete.DeleteOptions{All: true}},
		{name: "neither", args: nil, wantErr: "exactly one"},
	})
}

func TestAPIFlags(t *testing.T) {
	t.Parallel()
	runFlagCases(t, apistart.NewCmdStart, []flagCase[apistart.StartOptions]{
		{name: "local", want: apistart.StartOptions{Host: "127.0.0.1", Port: 46580}},
		{name: "deploy listens everywhere", args: []string{"--deploy"}, want: apistart.StartOptions{Deploy: true, Host: "0.0.0.0", Port: 46580}},
		{name: "foreground, auth", args: []string{"--foreground", "--enable-basic-auth", "--host", "localhost"},
			want: apistart.StartOptions{Foreground: true, EnableBasicAuth: true, Host: "localhost", Port: 46580}},
		{name: "any port, trusted network", args: []string{"--port", "0", "--host", "0.0.0.0", "--trusted-network"},
			want: apistart.StartOptions{Host: "0.0.0.0", Port: 0, TrustedNetwork: true}},
		{name: "bad host", args: []string{"--host", "10.0.0.1"}, wantErr: "127.0.0.1"},
	})
	runFlagCases(t, apistop.NewCmdStop, []flagCase[apistop.StopOptions]{{name: "stop", want: apistop.StopOptions{}}})
	runFlagCases(t, apiinfo.NewCmdInfo, []flagCase[apiinfo.InfoOptions]{{name: "info", want: apiinfo.InfoOptions{}}})
	runFlagCases(t, apistatus.NewCmdStatus, []flagCase[apistatus.StatusOptions]{
		{name: "defaults", want: apistatus.StatusOptions{Limit: 50, Output: cli.OutputTable}},
		{name: "all statuses, no limit", args: []string{"-a", "-l", "all", "-v", "5f3a"},
			want: apistatus.StatusOptions{RequestIDPrefixes: []string{"5f3a"}, AllStatus: true, Limit: 0, Verbose: true, Output: cli.OutputTable}},
		{name: "limit none", args: []string{"-l", "none"}, want: apistatus.StatusOptions{Limit: 0, Output: cli.OutputTable}},
		{name: "bad limit", args: []string{"-l", "many"}, wantErr: "--limit"},
	})
	runFlagCases(t, apilogs.NewCmdLogs, []flagCase[apilogs.LogsOptions]{
		{name: "request", args: []string{"5f3a"}, want: apilogs.LogsOptions{RequestID: "5f3a", Follow: true}},
		{name: "server logs", args: []string{"--server-logs", "--tail", "10", "--no-follow"},
			want: apilogs.LogsOptions{ServerLogs: true, Tail: ptr(10)}},
		{name: "nothing to stream", wantErr: "REQUEST_ID"},
		{name: "request and path", args: []string{"5f3a", "-l", "/tmp/x.log"}, wantErr: "only one"},
	})
	runFlagCases(t, apicancel.NewCmdCancel, []flagCase[apicancel.CancelOptions]{
		{name: "ids", args: []string{"a", "b"}, want: apicancel.CancelOptions{RequestIDs: []string{"a", "b"}}},
		{name: "all users", args: []string{"-u", "-y"}, want: apicancel.CancelOptions{AllUsers: true, Yes: true}},
		{name: "nothing", wantErr: "REQUEST_ID"},
	})
	runFlagCases(t, apilogin.NewCmdLogin, []flagCase[apilogin.LoginOptions]{
		{name: "endpoint", args: []string{"-e", "https://stix.example.com"}, want: apilogin.LoginOptions{Endpoint: "https://stix.example.com"}},
		{name: "token spellings", args: []string{"-e", "http://127.0.0.1:46580", "--service-account-token", "sky_x", "--relogin"},
			want: apilogin.LoginOptions{Endpoint: "http://127.0.0.1:46580", Token: "sky_x", Relogin: true}},
		{name: "short token", args: []string{"-t", "sky_y"}, want: apilogin.LoginOptions{Token: "sky_y"}},
	})
}

func TestSSHFlags(t *testing.T) {
	t.Parallel()
	runFlagCases(t, sshup.NewCmdUp, []flagCase[sshup.UpOptions]{
		{name: "all pools", want: sshup.UpOptions{}},
		{name: "one pool from a file", args: []string{"--infra", "lab", "-f", "pools.yaml"}, want: sshup.UpOptions{Infra: "lab", File: "pools.yaml"}},
	})
	runFlagCases(t, sshdown.NewCmdDown, []flagCase[sshdown.DownOptions]{
		{name: "one pool", args: []string{"--infra", "lab", "--async"}, want: sshdown.DownOptions{Infra: "lab", Async: true}},
	})
}
