package cmd_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
	jobscancel "github.com/stix-run/stix/internal/cli/cmd/jobs/cancel"
	jobslaunch "github.com/stix-run/stix/internal/cli/cmd/jobs/launch"
	jobslogs "github.com/stix-run/stix/internal/cli/cmd/jobs/logs"
	jobsqueue "github.com/stix-run/stix/internal/cli/cmd/jobs/queue"
	"github.com/stix-run/stix/internal/cli/fakeclient"
)

var (
	buildJobsLaunch = func(f *cli.Factory) *cobra.Command { return jobslaunch.NewCmdLaunch(f, nil) }
	buildJobsQueue  = func(f *cli.Factory) *cobra.Command { return jobsqueue.NewCmdQueue(f, nil) }
	buildJobsCancel = func(f *cli.Factory) *cobra.Command { return jobscancel.NewCmdCancel(f, nil) }
	buildJobsLogs   = func(f *cli.Factory) *cobra.Command { return jobslogs.NewCmdLogs(f, nil) }
)

// managedRows is a controller's queue: job 3, a two-task pipeline whose second task is RECOVERING after a
// preemption; job 2, FAILED after a restart on a user error; job 1, SUCCEEDED.
func managedRows() []api.ManagedJob {
	at := func(m int) *time.Time { t := launchedAt.Add(time.Duration(m) * time.Minute); return &t }
	return []api.ManagedJob{
		{ID: 3, TaskID: 0, Name: "pipe", TaskName: "train", User: "ada", Status: api.ManagedSucceeded, Resources: "1x[A100:8]",
			Infra: "AWS (us-east-1)", SubmittedAt: launchedAt, StartedAt: at(1), EndedAt: at(30), JobDuration: api.Seconds(29 * time.Minute)},
		{ID: 3, TaskID: 1, Name: "pipe", TaskName: "eval", User: "ada", Status: api.ManagedRecovering, Resources: "1x[cpus=4+]",
			Infra: "GCP (us-central1)", SubmittedAt: launchedAt, StartedAt: at(31), JobDuration: api.Seconds(20 * time.Minute), Recoveries: 1,
			Events: []api.ManagedJobEvent{{At: *at(31), Status: api.ManagedRunning},
				{At: *at(52), Status: api.ManagedRecovering, Reason: "preempted", Message: "node 0 is gone"}}},
		{ID: 2, Name: "flaky", TaskName: "flaky", User: "bob", Status: api.ManagedFailed, Resources: "1x[cpus=2+]", Infra: "Local",
			SubmittedAt: launchedAt, StartedAt: at(2), EndedAt: at(9), JobDuration: api.Seconds(6 * time.Minute), Recoveries: 1,
			FailureReason: "the run exited with code 3 and no restarts are left",
			Events:        []api.ManagedJobEvent{{At: *at(5), Status: api.ManagedRecovering, Reason: "user_error_restart", Message: "exit code 3"}}},
		{ID: 1, Name: "hello", TaskName: "hello", User: "ada", Status: api.ManagedSucceeded, Resources: "1x[cpus=1+]", Infra: "Local",
			SubmittedAt: launchedAt, StartedAt: at(1), EndedAt: at(2), JobDuration: api.Seconds(time.Minute), Cluster: "hello-1"},
	}
}

func managedOutput(status api.ManagedJobStatus) func(int64, api.JobsLogsOptions, io.Writer) ([]api.ManagedJob, error) {
	return func(id int64, opts api.JobsLogsOptions, w io.Writer) ([]api.ManagedJob, error) {
		if id == 404 {
			return nil, &api.ManagedJobNotFoundError{ID: id}
		}
		if opts.Controller {
			fmt.Fprintln(w, "controller: launching on Local")
		} else {
			fmt.Fprintln(w, "hello from the managed job")
		}
		return []api.ManagedJob{{ID: id, Status: status, FailureReason: map[bool]string{true: "the run exited with code 1"}[status.Failed()]}}, nil
	}
}

// pipelinePlans answers Plan for each task of a pipeline planned on its own.
func pipelinePlans(ts api.TaskSpec) (*api.Plan, error) {
	name := "train"
	if strings.Contains(ts.YAML, "eval") {
		name = "eval"
	}
	return &api.Plan{Header: []string{"INFRA", "INSTANCE", "COST ($)", "CHOSEN"}, Tasks: []api.PlanTask{{Name: name, Nodes: 1,
		Infra: "Local", Rows: []api.PlanRow{{Cells: []string{"Local", "-", "0.00", "✔"}, Chosen: true}}}}}, nil
}

func jobsVerbCases() []verbCase {
	launched := func(r api.JobsLaunchRequest) (api.JobsLaunchResult, error) {
		return api.JobsLaunchResult{IDs: []int64{4}, Name: "pipe"}, nil
	}
	queue := func(api.JobsQueueOptions) ([]api.ManagedJob, error) { return managedRows(), nil }
	return []verbCase{
		{name: "jobs-launch", build: buildJobsLaunch, args: []string{"-y", "-n", "pipe", "--cpus", "2+", "--job-recovery", "FAILOVER", "testdata/pipeline.yaml"},
			fake: func() *fakeclient.Client {
				return &fakeclient.Client{ValidateFunc: validTask,
					JobsLaunchEvents: []api.Event{{Type: api.EventStep, Msg: "Submitting managed job"}},
					JobsLaunchFunc:   launched, JobsLogsFunc: managedOutput(api.ManagedSucceeded)}
			},
			calls: "Validate JobsLaunch JobsLogs",
			check: func(t *testing.T, c *fakeclient.Client) {
				req := c.Last("JobsLaunch")[0].(api.JobsLaunchRequest)
				if !req.Task.Pipeline || !strings.Contains(req.Task.YAML, "---") || *req.Task.Overrides.Name != "pipe" ||
					*req.Task.Overrides.Cpus != "2+" || req.Options.JobRecovery != "FAILOVER" || req.Task.Config == nil {
					t.Errorf("jobs launch request = %+v", req)
				}
				if id, opts := c.Last("JobsLogs")[0].(int64), c.Last("JobsLogs")[1].(api.JobsLogsOptions); id != 4 || !opts.Follow {
					t.Errorf("followed job %d with %+v", id, opts)
				}
			}},
		{name: "jobs-launch-fails", build: buildJobsLaunch, args: []string{"-y", "echo hi"},
			fake: func() *fakeclient.Client {
				return &fakeclient.Client{ValidateFunc: validTask, JobsLaunchFunc: launched, JobsLogsFunc: managedOutput(api.ManagedFailedNoResource)}
			},
			calls: "Validate JobsLaunch JobsLogs"},
		{name: "jobs-launch-detached", build: buildJobsLaunch, args: []string{"-y", "-d", "echo hi"},
			fake: func() *fakeclient.Client {
				return &fakeclient.Client{ValidateFunc: validTask, JobsLaunchFunc: launched}
			},
			calls: "Validate JobsLaunch",
			check: func(t *testing.T, c *fakeclient.Client) {
				if req := c.Last("JobsLaunch")[0].(api.JobsLaunchRequest); req.Task.Pipeline || req.Task.Command != "echo hi" {
					t.Errorf("one task sent as %+v", req.Task)
				}
				if ts := c.Last("Validate")[0].(api.TaskSpec); !ts.Pipeline {
					t.Errorf("validated as %+v: a managed job's file is checked as a pipeline", ts)
				}
			}},
		{name: "jobs-launch-dryrun", build: buildJobsLaunch, args: []string{"--dryrun", "-n", "nightly", "testdata/pipeline.yaml"},
			fake: func() *fakeclient.Client {
				return &fakeclient.Client{ValidateFunc: validTask, PlanFunc: pipelinePlans}
			},
			calls: "Validate Plan Plan",
			check: func(t *testing.T, c *fakeclient.Client) {
				for _, call := range c.Calls() {
					if ts, ok := call.Args[0].(api.TaskSpec); ok && call.Method == "Plan" && (ts.Pipeline || strings.Contains(ts.YAML, "---") || ts.Overrides.Name != nil) {
						t.Errorf("a task planned as a pipeline, or renamed to the job: %+v", ts)
					}
				}
			}},
		{name: "jobs-launch-bad-second-task", build: buildJobsLaunch, args: []string{"-y", "testdata/pipeline.yaml"},
			fake: func() *fakeclient.Client {
				return &fakeclient.Client{ValidateFunc: func(api.TaskSpec) (*api.TaskCheck, error) {
					return &api.TaskCheck{Tasks: 2, Errors: []api.TaskError{{File: "testdata/pipeline.yaml", Line: 6, Col: 9,
						Path: "resources.cpus", Text: "testdata/pipeline.yaml:6:9: resources.cpus: expected a number"}}}, nil
				}}
			},
			calls: "Validate"},
		{name: "jobs-queue", build: buildJobsQueue, args: []string{"-u"}, fake: func() *fakeclient.Client {
			return &fakeclient.Client{JobsQueueFunc: queue}
		}, calls: "JobsQueue",
			check: func(t *testing.T, c *fakeclient.Client) {
				if o := c.Last("JobsQueue")[0].(api.JobsQueueOptions); o.Limit != 50 || o.SkipFinished || o.Events {
					t.Errorf("queue options %+v", o)
				}
			}},
		{name: "jobs-queue-verbose", build: buildJobsQueue, args: []string{"-v", "-a", "-s"}, fake: func() *fakeclient.Client {
			return &fakeclient.Client{JobsQueueFunc: queue}
		}, calls: "JobsQueue",
			check: func(t *testing.T, c *fakeclient.Client) {
				if o := c.Last("JobsQueue")[0].(api.JobsQueueOptions); o.Limit != 0 || !o.SkipFinished || !o.Events {
					t.Errorf("queue options %+v", o)
				}
			}},
		{name: "jobs-queue-json", build: buildJobsQueue, args: []string{"-o", "json"}, fake: func() *fakeclient.Client {
			return &fakeclient.Client{JobsQueueFunc: func(api.JobsQueueOptions) ([]api.ManagedJob, error) { return managedRows()[3:], nil }}
		}, calls: "JobsQueue"},
		{name: "jobs-queue-empty", build: buildJobsQueue, fake: func() *fakeclient.Client {
			return &fakeclient.Client{JobsQueueFunc: func(api.JobsQueueOptions) ([]api.ManagedJob, error) { return nil, nil }}
		}, calls: "JobsQueue"},
		{name: "jobs-cancel", build: buildJobsCancel, args: []string{"-y", "3", "1", "7"}, fake: func() *fakeclient.Client {
			return &fakeclient.Client{JobsCancelFunc: func(r api.JobsCancelRequest) ([]api.JobsCancelOutcome, error) {
				return []api.JobsCancelOutcome{{ID: 3, Status: api.ManagedCancelling},
					{ID: 1, Status: api.ManagedSucceeded, Message: "it finished 2 hrs ago"}, {ID: 7}}, nil
			}}
		}, calls: "JobsCancel",
			check: func(t *testing.T, c *fakeclient.Client) {
				if r := c.Last("JobsCancel")[0].(api.JobsCancelRequest); len(r.IDs) != 3 || r.IDs[0] != 3 || r.All || r.Name != "" {
					t.Errorf("cancel request %+v", r)
				}
			}},
		{name: "jobs-cancel-unknown", build: buildJobsCancel, args: []string{"-y", "-n", "nope"}, fake: func() *fakeclient.Client {
			return &fakeclient.Client{JobsCancelFunc: func(r api.JobsCancelRequest) ([]api.JobsCancelOutcome, error) {
				return nil, &api.ManagedJobNotFoundError{Name: r.Name}
			}}
		}, calls: "JobsCancel"},
		{name: "jobs-logs", build: buildJobsLogs, args: []string{"4"}, fake: func() *fakeclient.Client {
			return &fakeclient.Client{JobsLogsFunc: managedOutput(api.ManagedCancelled)}
		}, calls: "JobsLogs"},
		{name: "jobs-logs-controller", build: buildJobsLogs, args: []string{"--controller", "--no-follow", "-n", "pipe"}, fake: func() *fakeclient.Client {
			return &fakeclient.Client{JobsQueueFunc: queue, JobsLogsFunc: managedOutput(api.ManagedRunning)}
		}, calls: "JobsQueue JobsLogs",
			check: func(t *testing.T, c *fakeclient.Client) {
				if id, opts := c.Last("JobsLogs")[0].(int64), c.Last("JobsLogs")[1].(api.JobsLogsOptions); id != 3 || opts.Follow || !opts.Controller {
					t.Errorf("logs of job %d with %+v, want job 3 (pipe, unfinished), the controller's, not followed", id, opts)
				}
			}},
		{name: "jobs-logs-unknown", build: buildJobsLogs, args: []string{"404"}, fake: func() *fakeclient.Client {
			return &fakeclient.Client{JobsLogsFunc: managedOutput(api.ManagedRunning)}
		}, calls: "JobsLogs"},
		{name: "jobs-logs-status", build: buildJobsLogs, args: []string{"--status", "2"}, fake: func() *fakeclient.Client {
			return &fakeclient.Client{JobsQueueFunc: func(o api.JobsQueueOptions) ([]api.ManagedJob, error) { return managedRows()[2:3], nil }}
		}, calls: "JobsQueue"},
	}
}

// TestJobsVerbsAgainstAFakeClient runs the `stix jobs` verbs as TestVerbsAgainstAFakeClient runs the others.
func TestJobsVerbsAgainstAFakeClient(t *testing.T) {
	t.Parallel()
	for _, vc := range jobsVerbCases() {
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

// TestJobsLogsStatusExitCodes: `jobs logs --status` exits as `logs --status` does, for every managed-job state.
func TestJobsLogsStatusExitCodes(t *testing.T) {
	t.Parallel()
	want := map[api.ManagedJobStatus]int{
		api.ManagedPending: 101, api.ManagedStarting: 101, api.ManagedRunning: 101, api.ManagedRecovering: 101,
		api.ManagedCancelling: 101, api.ManagedSucceeded: 0, api.ManagedCancelled: 103, api.ManagedFailed: 100,
		api.ManagedFailedSetup: 100, api.ManagedFailedPrechecks: 100, api.ManagedFailedNoResource: 100, api.ManagedFailedController: 100,
	}
	for status, code := range want {
		fake := &fakeclient.Client{JobsQueueFunc: func(api.JobsQueueOptions) ([]api.ManagedJob, error) {
			return []api.ManagedJob{{ID: 5, Status: status}}, nil
		}}
		out, _, err := runVerb(buildJobsLogs, fake, false, "--status")
		if got := exitOf(err); got != code || out != fmt.Sprintf("Managed job 5: %s\n", status) {
			t.Errorf("%s: exit %d, stdout %q; want exit %d", status, got, out, code)
		}
	}
	fake := &fakeclient.Client{JobsQueueFunc: func(api.JobsQueueOptions) ([]api.ManagedJob, error) { return nil, nil }}
	if _, errOut, err := runVerb(buildJobsLogs, fake, false, "--status", "8"); exitOf(err) != 102 || !strings.Contains(errOut, "managed job 8 not found") {
		t.Errorf("unknown job: exit %d, stderr %q; want 102", exitOf(err), errOut)
	}
}

func exitOf(err error) int {
	var exit *cli.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.Code
	}
	return 1
}

// TestJobsLaunchConfirms: without -y, a user at a terminal sees where each task would run and is asked before
// anything is submitted; off a terminal the command asks for -y, having planned nothing.
func TestJobsLaunchConfirms(t *testing.T) {
	t.Parallel()
	fake := &fakeclient.Client{ValidateFunc: validTask, PlanFunc: pipelinePlans}
	out, errOut, err := runVerb(buildJobsLaunch, fake, true, "-n", "nightly", "testdata/pipeline.yaml")
	if fake.Methods() != "Validate Plan Plan" || exitOf(err) != cli.ExitFailure {
		t.Errorf("at a terminal: calls %q, exit %d", fake.Methods(), exitOf(err))
	}
	if !strings.Contains(out, "Task train: Considered resources") || !strings.Contains(out, "Task eval: Considered resources") ||
		!strings.Contains(errOut, "Launching a managed job 'nightly'. Proceed? [Y/n]") || !strings.Contains(errOut, "Aborted.") {
		t.Errorf("at a terminal: stdout %q stderr %q", out, errOut)
	}
	fake = &fakeclient.Client{ValidateFunc: validTask}
	_, _, err = runVerb(buildJobsLaunch, fake, false, "testdata/pipeline.yaml")
	var fe *cli.FlagError
	if fake.Methods() != "Validate" || !errors.As(err, &fe) || !strings.Contains(err.Error(), "pass -y/--yes") {
		t.Errorf("off a terminal: calls %q, err %v", fake.Methods(), err)
	}
}

// TestJobsLaunchDryRunStartsNoServer: --dryrun plans with the CLI's own client; the controller's (which would
// start the local server) is not asked for.
func TestJobsLaunchDryRunStartsNoServer(t *testing.T) {
	t.Parallel()
	fake := &fakeclient.Client{ValidateFunc: validTask, PlanFunc: pipelinePlans}
	out := &bytes.Buffer{}
	f := &cli.Factory{IOStreams: cli.Test(strings.NewReader(""), out, &bytes.Buffer{}), Getenv: func(string) string { return "" },
		Client: func() (api.Client, error) { return fake, nil },
		ControllerClient: func() (api.Client, error) {
			t.Error("--dryrun asked for the controller's client")
			return nil, errors.New("no server")
		}}
	cmd := jobslaunch.NewCmdLaunch(f, nil)
	cmd.SetArgs([]string{"--dryrun", "testdata/pipeline.yaml"})
	cmd.SetOut(out)
	cmd.SetErr(&bytes.Buffer{})
	if err := cmd.Execute(); err != nil || fake.Methods() != "Validate Plan Plan" {
		t.Errorf("err %v, calls %q", err, fake.Methods())
	}
}
