package cmd_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/cmd/autostop"
	"github.com/stix-run/stix/internal/cli/cmd/cancel"
	"github.com/stix-run/stix/internal/cli/cmd/check"
	"github.com/stix-run/stix/internal/cli/cmd/costreport"
	"github.com/stix-run/stix/internal/cli/cmd/down"
	"github.com/stix-run/stix/internal/cli/cmd/exec"
	"github.com/stix-run/stix/internal/cli/cmd/launch"
	"github.com/stix-run/stix/internal/cli/cmd/logs"
	"github.com/stix-run/stix/internal/cli/cmd/queue"
	"github.com/stix-run/stix/internal/cli/cmd/showgpus"
	sshup "github.com/stix-run/stix/internal/cli/cmd/ssh/up"
	"github.com/stix-run/stix/internal/cli/cmd/start"
	"github.com/stix-run/stix/internal/cli/cmd/status"
	"github.com/stix-run/stix/internal/cli/cmd/stop"
	"github.com/stix-run/stix/internal/cli/fakeclient"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/client/")

// now is the clock of the command tests: clusters launched at launchedAt show as "2 hrs ago".
var (
	now        = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	launchedAt = now.Add(-2 * time.Hour)
)

// verbCase is one command line run against a fake api.Client: the calls it must make and, in
// testdata/client/NAME.golden, its stdout, stderr and error with the terminal on and off.
type verbCase struct {
	name  string
	build func(*cli.Factory) *cobra.Command
	args  []string
	fake  func() *fakeclient.Client
	// calls are the client methods the command must call, in order.
	calls string
	// check looks at what the command asked of the client.
	check func(t *testing.T, c *fakeclient.Client)
}

// TestVerbsAgainstAFakeClient runs the main verbs (options + fake client → output), as the GitHub CLI's command
// tests do: the core is out of the picture, so these pin what each verb asks the client and how it prints
// the answers, on a terminal and off one.
func TestVerbsAgainstAFakeClient(t *testing.T) {
	t.Parallel()
	for _, vc := range verbCases() {
		t.Run(vc.name, func(t *testing.T) {
			t.Parallel()
			var golden strings.Builder
			for _, tty := range []bool{false, true} {
				fake := vc.fake()
				out, errOut, err := runVerb(vc.build, fake, tty, vc.args...)
				if got := fake.Methods(); got != vc.calls {
					t.Errorf("tty=%v: calls = %q, want %q", tty, got, vc.calls)
				}
				var nf *fakeclient.NotFaked
				if errors.As(err, &nf) {
					t.Errorf("tty=%v: %v", tty, err)
				}
				if vc.check != nil {
					vc.check(t, fake)
				}
				fmt.Fprintf(&golden, "== tty=%v\n-- stdout --\n%s-- stderr --\n%s-- error --\n%s\n", tty, out, errOut, errText(err))
			}
			compareGolden(t, filepath.Join("testdata", "client", vc.name+".golden"), golden.String())
		})
	}
}

// runVerb builds the command with the fake as the Factory's client and runs args; on a terminal stderr is what
// the screen shows once the spinner's redraws settle.
func runVerb(build func(*cli.Factory) *cobra.Command, fake *fakeclient.Client, tty bool, args ...string) (string, string, error) {
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	s := cli.Test(strings.NewReader(""), out, errOut)
	s.SetTTY(tty)
	f := &cli.Factory{
		IOStreams: s,
		Now:       func() time.Time { return now },
		Getenv:    func(k string) string { return testEnv[k] },
		StixHome:  func() (string, error) { return "/nonexistent-stix-home", nil },
		Client:    func() (api.Client, error) { return fake, nil },
		// The verbs of controllers reach the same fake: which server answers is stixcmd's choice, tested there.
		ControllerClient: func() (api.Client, error) { return fake, nil },
	}
	cmd := build(f)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetArgs(append([]string{}, args...)) // never nil: cobra would read os.Args
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	err := cmd.ExecuteContext(context.Background())
	stderr := errOut.String()
	if tty {
		stderr = screen(stderr)
	}
	return out.String(), stderr, err
}

// screen replays carriage returns and line erases as a terminal would, dropping the spinner's frames.
var eraseLine = regexp.MustCompile(`[^\n]*\r\x1b\[K`)

func screen(s string) string { return eraseLine.ReplaceAllString(s, "") }

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	var exit *cli.ExitError
	if errors.As(err, &exit) {
		return fmt.Sprintf("exit %d: %v", exit.Code, exit.Err)
	}
	return err.Error()
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update to accept):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// Constructors with the real run (no runF), as the root command builds them.
var (
	buildLaunch   = func(f *cli.Factory) *cobra.Command { return launch.NewCmdLaunch(f, nil) }
	buildExec     = func(f *cli.Factory) *cobra.Command { return exec.NewCmdExec(f, nil) }
	buildStatus   = func(f *cli.Factory) *cobra.Command { return status.NewCmdStatus(f, nil) }
	buildQueue    = func(f *cli.Factory) *cobra.Command { return queue.NewCmdQueue(f, nil) }
	buildLogs     = func(f *cli.Factory) *cobra.Command { return logs.NewCmdLogs(f, nil) }
	buildCancel   = func(f *cli.Factory) *cobra.Command { return cancel.NewCmdCancel(f, nil) }
	buildStart    = func(f *cli.Factory) *cobra.Command { return start.NewCmdStart(f, nil) }
	buildStop     = func(f *cli.Factory) *cobra.Command { return stop.NewCmdStop(f, nil) }
	buildDown     = func(f *cli.Factory) *cobra.Command { return down.NewCmdDown(f, nil) }
	buildAutostop = func(f *cli.Factory) *cobra.Command { return autostop.NewCmdAutostop(f, nil) }
	buildCost     = func(f *cli.Factory) *cobra.Command { return costreport.NewCmdCostReport(f, nil) }
	buildCheck    = func(f *cli.Factory) *cobra.Command { return check.NewCmdCheck(f, nil) }
	buildShowGPUs = func(f *cli.Factory) *cobra.Command { return showgpus.NewCmdShowGPUs(f, nil) }
	buildSSHUp    = func(f *cli.Factory) *cobra.Command { return sshup.NewCmdUp(f, nil) }
)

// validTask answers Validate with a clean check that carries one note and one config warning.
func validTask(api.TaskSpec) (*api.TaskCheck, error) {
	return &api.TaskCheck{Tasks: 1,
		Notices:  []api.TaskNotice{{Kind: "deprecated", Message: "old key", Text: "task.yaml:3:1: deprecated: resources.cloud: old key"}},
		Warnings: []string{"docker.run_options: not acted on yet"}}, nil
}

// jobOutput answers Logs with a job's output and its end.
func jobOutput(status api.JobStatus) func(string, int, api.LogsOptions, io.Writer) (api.Job, error) {
	return func(_ string, id int, _ api.LogsOptions, w io.Writer) (api.Job, error) {
		fmt.Fprintln(w, "hello from the job")
		return api.Job{ID: id, Status: status}, nil
	}
}

func names(ns ...string) func([]string, bool) ([]string, error) {
	return func([]string, bool) ([]string, error) { return ns, nil }
}

func twoClusters([]string, bool) ([]api.Cluster, error) {
	return []api.Cluster{
		{Name: "dev", Status: api.ClusterUp, Infra: "Local", Cloud: "local", NumNodes: 1, Resources: "1x(cpus=2, mem=4)",
			HeadIP: "127.0.0.1", LaunchedAt: launchedAt, LastUse: "stix launch task.yaml", User: "ada", AutostopMins: 10, ToDown: true},
		{Name: "train", Status: api.ClusterStopped, Infra: "Docker", Cloud: "docker", NumNodes: 2, Resources: "2x(cpus=4, mem=8)",
			LaunchedAt: launchedAt, User: "ada", AutostopMins: -1, Note: "node 1 is not running"},
	}, nil
}

func verbCases() []verbCase {
	ok := func(string) error { return nil }
	return []verbCase{
		{name: "launch", build: buildLaunch, args: []string{"-y", "-c", "dev", "--gpus", "A100:1", "echo hello"},
			fake: func() *fakeclient.Client {
				return &fakeclient.Client{ValidateFunc: validTask,
					LaunchEvents: []api.Event{{Type: api.EventStep, Msg: "Launching on Local"}, {Type: api.EventStep, Msg: "Job submitted, ID: 1"}},
					LaunchFunc: func(r api.LaunchRequest) (api.LaunchResult, error) {
						return api.LaunchResult{ClusterName: "dev", JobID: 1}, nil
					},
					LogsFunc: jobOutput(api.JobSucceeded)}
			},
			calls: "Validate Launch Logs",
			check: func(t *testing.T, c *fakeclient.Client) {
				req := c.Last("Launch")[0].(api.LaunchRequest)
				if req.Task.Command != "echo hello" || *req.Task.Overrides.Accelerators != "A100:1" || req.Task.Config == nil ||
					req.Options.ClusterName != "dev" || req.Options.Command != "stix launch echo hello" {
					t.Errorf("launch request = %+v", req)
				}
			}},
		{name: "launch-job-fails", build: buildLaunch, args: []string{"-y", "echo hello"},
			fake: func() *fakeclient.Client {
				return &fakeclient.Client{ValidateFunc: validTask,
					LaunchFunc: func(api.LaunchRequest) (api.LaunchResult, error) {
						return api.LaunchResult{ClusterName: "c1", JobID: 2}, nil
					},
					LogsFunc: jobOutput(api.JobFailed)}
			},
			calls: "Validate Launch Logs"},
		{name: "launch-failover-fails", build: buildLaunch, args: []string{"-y", "-d", "echo hello"},
			fake: func() *fakeclient.Client {
				return &fakeclient.Client{ValidateFunc: validTask,
					LaunchEvents: []api.Event{
						{Type: api.EventStep, Msg: "Trying AWS (us-east-1)"},
						{Type: api.EventStepFailed, Msg: "Failed on AWS (us-east-1): no capacity; blocking zone", Error: "no capacity"},
						{Type: api.EventStep, Msg: "Trying GCP (us-central1)"},
					},
					LaunchFunc: func(api.LaunchRequest) (api.LaunchResult, error) {
						return api.LaunchResult{}, errors.New("failed to provision on every candidate")
					}}
			},
			calls: "Validate Launch"},
		{name: "launch-bad-task", build: buildLaunch, args: []string{"-y", "echo hello"},
			fake: func() *fakeclient.Client {
				return &fakeclient.Client{ValidateFunc: func(api.TaskSpec) (*api.TaskCheck, error) {
					return &api.TaskCheck{Errors: []api.TaskError{{File: "t.yaml", Line: 2, Col: 7, Text: "t.yaml:2:7: resources.cpus: expected a number"}}}, nil
				}}
			},
			calls: "Validate"},
		{name: "launch-dryrun", build: buildLaunch, args: []string{"--dryrun", "echo hello"},
			fake: func() *fakeclient.Client {
				return &fakeclient.Client{ValidateFunc: validTask, PlanFunc: func(api.TaskSpec) (*api.Plan, error) {
					return &api.Plan{Header: []string{"INFRA", "INSTANCE", "COST ($)", "CHOSEN"}, Tasks: []api.PlanTask{{Name: "t",
						Nodes: 1, Infra: "Local", Rows: []api.PlanRow{{Cells: []string{"Local", "-", "0.00", "✔"}, Chosen: true}}}}}, nil
				}}
			},
			calls: "Validate Plan"},
		{name: "exec-detached", build: buildExec, args: []string{"dev", "-d", "--env", "WANDB_API_KEY", "python train.py"},
			fake: func() *fakeclient.Client {
				return &fakeclient.Client{ValidateFunc: validTask,
					ExecEvents: []api.Event{{Type: api.EventStep, Msg: "Syncing files"}}, // exec shows no steps
					ExecFunc: func(r api.ExecRequest) (api.LaunchResult, error) {
						return api.LaunchResult{ClusterName: r.Cluster, JobID: 7}, nil
					}}
			},
			calls: "Validate Exec",
			check: func(t *testing.T, c *fakeclient.Client) {
				req := c.Last("Exec")[0].(api.ExecRequest)
				if req.Cluster != "dev" || req.Task.Env["WANDB_API_KEY"] != "k-123" || req.Task.Config == nil || len(req.Task.Config.Args) != 0 {
					t.Errorf("exec request = %+v", req)
				}
			}},
		{name: "status", build: buildStatus, args: []string{"-v", "-u"}, fake: func() *fakeclient.Client {
			return &fakeclient.Client{StatusFunc: twoClusters}
		}, calls: "Status"},
		{name: "status-workspaces", build: buildStatus, args: []string{"-u"}, fake: func() *fakeclient.Client {
			return &fakeclient.Client{StatusFunc: func(n []string, r bool) ([]api.Cluster, error) {
				all, _ := twoClusters(n, r)
				all[0].Workspace, all[1].Workspace = "default", "team-a"
				return all, nil
			}}
		}, calls: "Status"},
		{name: "status-json", build: buildStatus, args: []string{"-o", "json", "dev"}, fake: func() *fakeclient.Client {
			return &fakeclient.Client{MatchFunc: names("dev"), StatusFunc: func(n []string, r bool) ([]api.Cluster, error) {
				all, _ := twoClusters(n, r)
				return all[:1], nil
			}}
		}, calls: "Match Status"},
		{name: "status-endpoints", build: buildStatus, args: []string{"--endpoints", "dev"}, fake: func() *fakeclient.Client {
			return &fakeclient.Client{EndpointsFunc: func(string, int) (map[int]string, error) {
				return map[int]string{9000: "203.0.113.5:9000", 8080: "203.0.113.5:8080"}, nil
			}}
		}, calls: "Endpoints", check: func(t *testing.T, c *fakeclient.Client) {
			if args := c.Last("Endpoints"); args[0] != "dev" || args[1] != 0 {
				t.Errorf("Endpoints%v; want (dev, 0): every port", args)
			}
		}},
		{name: "status-endpoint-pending", build: buildStatus, args: []string{"--endpoint", "8080", "dev"}, fake: func() *fakeclient.Client {
			return &fakeclient.Client{EndpointsFunc: func(string, int) (map[int]string, error) { return map[int]string{}, nil }}
		}, calls: "Endpoints"},
		{name: "status-empty", build: buildStatus, fake: func() *fakeclient.Client {
			return &fakeclient.Client{StatusFunc: func([]string, bool) ([]api.Cluster, error) { return nil, nil }}
		}, calls: "Status"},
		{name: "queue", build: buildQueue, args: []string{"dev"}, fake: func() *fakeclient.Client {
			started, ended := launchedAt.Add(time.Minute), launchedAt.Add(3*time.Minute)
			return &fakeclient.Client{MatchFunc: names("dev"), QueueFunc: func(string, bool) ([]api.Job, error) {
				return []api.Job{
					{ID: 2, Name: "train", User: "ada", Status: api.JobRunning, SubmittedAt: launchedAt, StartedAt: &started, Resources: "1x[A100:1]", NumNodes: 1},
					{ID: 1, Name: "setup", User: "ada", Status: api.JobSucceeded, SubmittedAt: launchedAt, StartedAt: &started, EndedAt: &ended, Resources: "1x[CPU:1]", NumNodes: 1},
				}, nil
			}}
		}, calls: "Match Queue"},
		{name: "logs", build: buildLogs, args: []string{"dev", "2"}, fake: func() *fakeclient.Client {
			return &fakeclient.Client{LogsFunc: jobOutput(api.JobSucceeded)}
		}, calls: "Logs"},
		{name: "cancel", build: buildCancel, args: []string{"-y", "dev", "1", "2"}, fake: func() *fakeclient.Client {
			return &fakeclient.Client{CancelFunc: func(string, []int, bool) ([]api.CancelOutcome, error) {
				return []api.CancelOutcome{{JobID: 1, Cancelled: true, Status: api.JobCancelled},
					{JobID: 2, Status: api.JobSucceeded, Message: "job 2 already finished (SUCCEEDED)"}}, nil
			}}
		}, calls: "Cancel"},
		{name: "start", build: buildStart, args: []string{"-y", "dev", "-i", "30"}, fake: func() *fakeclient.Client {
			return &fakeclient.Client{MatchFunc: names("dev"),
				StartEvents:  []api.Event{{Type: api.EventStep, Msg: `Restarting cluster "dev" (STOPPED)`}, {Type: api.EventStep, Msg: `Cluster "dev" is UP`}},
				StartFunc:    ok,
				AutostopFunc: func(string, api.AutostopOptions) error { return nil }}
		}, calls: "Match Start Autostop",
			check: func(t *testing.T, c *fakeclient.Client) {
				if opts := c.Last("Autostop")[1].(api.AutostopOptions); opts.IdleMinutes != 30 || opts.Down {
					t.Errorf("autostop = %+v", opts)
				}
			}},
		{name: "stop-one-fails", build: buildStop, args: []string{"-y", "dev", "train"}, fake: func() *fakeclient.Client {
			return &fakeclient.Client{MatchFunc: names("dev", "train"), StopFunc: func(c string) error {
				if c == "train" {
					return &api.ClusterNotFoundError{Name: c}
				}
				return nil
			}}
		}, calls: "Match Stop Stop"},
		{name: "down", build: buildDown, args: []string{"-y", "dev"}, fake: func() *fakeclient.Client {
			return &fakeclient.Client{MatchFunc: names("dev"), DownFunc: func(string, bool) error { return nil }}
		}, calls: "Match Down"},
		{name: "autostop", build: buildAutostop, args: []string{"dev", "-i", "10", "--down"}, fake: func() *fakeclient.Client {
			return &fakeclient.Client{MatchFunc: names("dev"), AutostopFunc: func(string, api.AutostopOptions) error { return nil }}
		}, calls: "Match Autostop"},
		{name: "cost-report", build: buildCost, fake: func() *fakeclient.Client {
			return &fakeclient.Client{CostReportFunc: func() ([]api.CostReportEntry, error) {
				return []api.CostReportEntry{{Name: "dev", Status: "UP", NumNodes: 1, Resources: "1x(cpus=2, mem=4)", LaunchedAt: launchedAt,
					Duration: api.Seconds(2 * time.Hour), HourlyPrice: 0.5, TotalCost: 1}}, nil
			}}
		}, calls: "CostReport"},
		{name: "check", build: buildCheck, args: []string{"-v"}, fake: func() *fakeclient.Client {
			return &fakeclient.Client{CheckFunc: func([]string, bool) (api.CheckResult, error) {
				return api.CheckResult{Results: []api.InfraCheck{
					{Infra: "aws", Enabled: true, Detail: "profile default"},
					{Infra: "gcp", Reason: "no credentials: run `gcloud auth application-default login`"},
					{Infra: "ssh", Enabled: true, Contexts: []string{"lab", "rack"}},
				}, Enabled: []string{"aws", "ssh"}}, nil
			}}
		}, calls: "Check", check: func(t *testing.T, c *fakeclient.Client) {
			if args := c.Last("Check"); args[1] != true {
				t.Errorf("check -v called Check%v; want verify", args)
			}
		}},
		{name: "show-gpus", build: buildShowGPUs, fake: gpuFake, calls: "Accelerators",
			check: func(t *testing.T, c *fakeclient.Client) {
				if q := c.Last("Accelerators")[0].(api.GPUQuery); q.AllClouds {
					t.Errorf("without -a only enabled clouds count: %+v", q)
				}
			}},
		{name: "show-gpus-all", build: buildShowGPUs, args: []string{"-a"}, fake: gpuFake, calls: "Accelerators",
			check: func(t *testing.T, c *fakeclient.Client) {
				if q := c.Last("Accelerators")[0].(api.GPUQuery); !q.AllClouds {
					t.Errorf("-a asks for every catalog cloud: %+v", q)
				}
			}},
		{name: "show-gpus-offers", build: buildShowGPUs, args: []string{"A100:8", "--infra", "aws"}, fake: gpuFake, calls: "Offers",
			check: func(t *testing.T, c *fakeclient.Client) {
				if q := c.Last("Offers")[0].(api.GPUQuery); q.Name != "A100" || q.Count != 8 || q.Infra != "aws" {
					t.Errorf("query = %+v", q)
				}
			}},
		{name: "ssh-up", build: buildSSHUp, args: []string{"--infra", "lab"}, fake: func() *fakeclient.Client {
			ready := api.SSHHostResult{Pool: "lab", Host: "h1", Shape: "8 CPUs, 31GB"}
			failed := api.SSHHostResult{Pool: "lab", Host: "h2", Error: "ssh: connection refused"}
			return &fakeclient.Client{SSHEvents: []api.Event{{Type: api.EventHost, Host: &ready}, {Type: api.EventHost, Host: &failed}},
				SSHUpFunc: func(api.SSHPoolRequest) ([]api.SSHHostResult, error) { return []api.SSHHostResult{ready, failed}, nil }}
		}, calls: "SSHUp"},
	}
}

func gpuFake() *fakeclient.Client {
	price := func(v float64) *float64 { return &v }
	return &fakeclient.Client{
		AcceleratorsFunc: func(api.GPUQuery) ([]api.AcceleratorCounts, error) {
			return []api.AcceleratorCounts{
				{Name: "A100", Group: api.GroupCommonGPU, Counts: []float64{1, 2, 8}, Clouds: []string{"aws"}},
				{Name: "tpu-v4-8", Group: api.GroupGoogleTPU, Counts: []float64{1}, Clouds: []string{"gcp"}},
				{Name: "MI300X", Group: api.GroupOtherGPU, Counts: []float64{0.5, 8}, Clouds: []string{"runpod"}},
			}, nil
		},
		OffersFunc: func(api.GPUQuery) ([]api.Offer, error) {
			return []api.Offer{
				{Accelerator: "A100", Count: 8, Cloud: "aws", InstanceType: "p4d.24xlarge", DeviceMemoryGiB: 40, VCPUs: 96, MemoryGiB: 1152,
					HourlyPrice: price(32.7726), HourlySpotPrice: price(5.093), Region: "us-east-1"},
				{Accelerator: "A100-80GB", Count: 8, Cloud: "aws", InstanceType: "p4de.24xlarge", DeviceMemoryGiB: 80, VCPUs: 96, MemoryGiB: 1152,
					HourlyPrice: price(40.96), Region: "us-east-1"},
			}, nil
		},
	}
}
