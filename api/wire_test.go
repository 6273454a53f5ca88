package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
)

func ptr[T any](v T) *T { return &v }

// TestWireRoundTrip checks that every request and result of api.Client survives JSON unchanged: what an HTTP
// implementation sends is what the core receives.
func TestWireRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	task := api.TaskSpec{
		YAML: "name: train\nrun: python train.py\nsecrets:\n  HF_TOKEN: null\n", FileName: "task.yaml",
		Overrides: api.TaskOverrides{Name: ptr("t"), Workdir: ptr("."), NumNodes: ptr(2), Infra: ptr("aws/us-east-1"),
			Accelerators: ptr("A100:8"), Cpus: ptr("4+"), Memory: ptr("32+"), InstanceType: ptr("p4d.24xlarge"),
			UseSpot: ptr(false), ImageID: ptr("docker:ubuntu"), DiskSize: ptr("100"), DiskTier: ptr("best"),
			NetworkTier: ptr("none"), Ports: []string{"8080", "9000-9010"}},
		Env:     map[string]string{"A": "1"},
		Secrets: map[string]string{"HF_TOKEN": "hf-secret"}, // a secret travels as its value: it is not lost
		Config: &api.ConfigLayers{Args: []string{"allowed_clouds=[aws]"}, Dir: "/work",
			Project: &api.ConfigText{File: "/work/.stix.yaml", Text: "active_workspace: team-a\n"},
			Layers:  []api.ConfigText{{File: "ci.yaml", Text: "provision:\n  ssh_timeout: 9\n"}, {Text: "docker.run_options=[--shm-size=1g]"}}},
		Dir:      "/home/ada/proj",
		Uploads:  map[string]string{"proj": "sha256:ab12"},
		InBucket: map[string]api.SourcesInBucket{"/data": {Created: true}},
	}
	exit := 3
	values := []any{
		task,
		api.TaskSpec{Command: "echo hi", Pipeline: true},
		api.LaunchRequest{Task: task, Options: api.LaunchOptions{ClusterName: "c", IdleMinutes: ptr(10), Down: true,
			NoSetup: true, RetryUntilUp: true, Command: "stix launch task.yaml"}},
		api.ExecRequest{Cluster: "c", Task: task, Options: api.ExecOptions{Command: "stix exec c task.yaml"}},
		api.LaunchResult{ClusterName: "c", JobID: 4, Provisioned: true},
		api.Request{ID: "r1", Name: "launch", User: "ada", Created: at, Finished: &at, Status: api.RequestFailed,
			Cluster: "c", Result: json.RawMessage(`{"cluster_name":"c"}`),
			Error: &api.Error{Code: api.CodeJobNotFound, Message: "m", Hint: "h", Cluster: "c", JobID: 2}},
		api.StreamLine{Seq: 3, Event: &api.Event{Type: api.EventStep, Msg: "Launching"}},
		api.LogLine{Out: "hi\n", Offset: 3, Job: &api.Job{ID: 1, Status: api.JobRunning, SubmittedAt: at}},
		api.Health{Status: "healthy", Version: "v", Commit: "c", User: "ada"},
		api.TaskCheck{Tasks: 2,
			Errors:       []api.TaskError{{File: "t.yaml", Line: 3, Col: 5, Path: "resources.cpus", Message: "bad", Hint: "4+", Text: "t.yaml:3:5: resources.cpus: bad (4+)"}},
			Notices:      []api.TaskNotice{{File: "t.yaml", Line: 1, Col: 1, Kind: "deprecated", Message: "old", Text: "t.yaml:1:1: deprecated: old"}},
			ConfigErrors: []api.TaskError{{Message: "x", Text: "x"}}, Warnings: []string{"w"}},
		api.Event{Type: api.EventStepFailed, Msg: "Failed on AWS", Error: "no capacity"},
		api.Event{Type: api.EventHost, Host: &api.SSHHostResult{Pool: "p", Host: "h1", Shape: "8 CPUs", Error: ""}},
		api.Cluster{Name: "c", Status: api.ClusterUp, Infra: "Local", Cloud: "local", NumNodes: 1, LaunchedAt: at, AutostopMins: -1, Workspace: "team-a"},
		api.ClusterNode{Rank: 1, Role: "worker", InternalIP: "10.0.0.2", ExternalIP: "3.4.5.6", Status: api.ClusterUp, Cloud: "aws",
			Region: "us-east-1", Zone: "us-east-1a", InstanceType: "p4d.24xlarge", Spot: true, CPUs: 96, MemoryGB: 1152,
			Accelerators: map[string]float64{"A100": 8}},
		api.Job{ID: 1, Name: "j", Status: api.JobFailed, SubmittedAt: at, StartedAt: &at, ExitCode: &exit},
		api.CancelOutcome{JobID: 1, Cancelled: true, Status: api.JobCancelled},
		api.CostReportEntry{Name: "c", Status: "TERMINATED", LaunchedAt: at, Duration: api.Seconds(90 * time.Second), TotalCost: 1.5},
		api.Plan{Header: []string{"INFRA"}, Tasks: []api.PlanTask{{Name: "t", Nodes: 1, Infra: "Local", Rows: []api.PlanRow{{Cells: []string{"Local"}, Chosen: true}}}}},
		api.CheckResult{Results: []api.InfraCheck{{Infra: "aws", Enabled: true, Detail: "profile default", Contexts: []string{"a"}}}, Enabled: []string{"aws"}, SaveError: "disk full"},
		api.GPUQuery{Name: "A100", Count: 8, Infra: "aws", AllClouds: true, AllRegions: true},
		api.AcceleratorCounts{Name: "A100", Group: api.GroupCommonGPU, Counts: []float64{0.5, 1, 8}, Clouds: []string{"aws"}},
		api.Offer{Accelerator: "A100", Count: 8, Cloud: "aws", InstanceType: "p4d", HourlyPrice: ptr(32.77), Region: "us-east-1"},
		api.SSHPoolRequest{Pool: "p", File: "pools.yaml"},
		api.AutostopOptions{IdleMinutes: 5, Down: true},
		api.LogsOptions{Follow: true, Tail: 10},
		api.JobsLaunchRequest{Task: api.TaskSpec{YAML: "run: a\n---\nrun: b\n", FileName: "p.yaml", Pipeline: true},
			Options: api.JobsLaunchOptions{JobRecovery: "FAILOVER", Pool: "p", NumJobs: 2}},
		api.JobsLaunchResult{IDs: []int64{7, 8}, Name: "train"},
		api.JobsCancelRequest{IDs: []int64{1, 2}, Name: "n", All: true},
		api.JobsCancelOutcome{ID: 3, Status: api.ManagedSucceeded, Message: "already finished"},
		api.ManagedJob{ID: 4, TaskID: 1, Name: "pipe", TaskName: "eval", User: "ada", Workspace: "default",
			Status: api.ManagedRecovering, Resources: "1x[A100:8]", Infra: "AWS (us-east-1)", Cluster: "eval-4",
			SubmittedAt: at, StartedAt: &at, EndedAt: &at, JobDuration: api.Seconds(time.Minute), Recoveries: 2,
			FailureReason: "f", Events: []api.ManagedJobEvent{{At: at, Status: api.ManagedRecovering, Reason: "preempted", Message: "node 1 gone"}}},
		api.LogLine{Offset: 9, Tasks: []api.ManagedJob{}},
		api.LogLine{Offset: 9, Tasks: []api.ManagedJob{{ID: 1, Status: api.ManagedSucceeded, SubmittedAt: at}}},
	}
	for _, v := range values {
		t.Run(reflect.TypeOf(v).String(), func(t *testing.T) {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			back := reflect.New(reflect.TypeOf(v))
			if err := json.Unmarshal(b, back.Interface()); err != nil {
				t.Fatal(err)
			}
			if got := back.Elem().Interface(); !reflect.DeepEqual(got, v) {
				t.Errorf("round trip changed the value:\n got  %#v\n want %#v\n json %s", got, v, b)
			}
		})
	}
}

// TestTypedErrorsSurviveTheWire: an error of the core sent by the server (WireError, JSON) comes back as the
// same type with the same fields (Err), so that the CLI acts on it as on the embedded core's.
func TestTypedErrorsSurviveTheWire(t *testing.T) {
	t.Parallel()
	for _, sent := range []error{
		&api.ManagedJobNotFoundError{ID: 12},
		&api.ManagedJobNotFoundError{Name: "train"},
		&api.JobNotFoundError{Cluster: "c", ID: 3},
		&api.ClusterNotFoundError{Name: "c"},
	} {
		b, err := json.Marshal(api.WireError(sent))
		if err != nil {
			t.Fatal(err)
		}
		var e api.Error
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		if got := e.Err(); !reflect.DeepEqual(got, sent) || got.Error() != sent.Error() {
			t.Errorf("%T came back as %#v (json %s)", sent, got, b)
		}
	}
}

// TestTaskErrorsKeepPositions: a bad task's problems travel with file:line:col and print as stix prints them.
func TestTaskErrorsKeepPositions(t *testing.T) {
	t.Parallel()
	c := &api.TaskCheck{Errors: []api.TaskError{
		{File: "task.yaml", Line: 2, Col: 3, Path: "resources.cpus", Message: "expected a number", Text: "task.yaml:2:3: resources.cpus: expected a number"},
		{File: "task.yaml", Line: 4, Col: 1, Message: "unknown key", Text: "task.yaml:4:1: unknown key"},
	}}
	err := c.Err()
	var list api.TaskErrors
	if !errors.As(err, &list) || len(list) != 2 || list[0].Line != 2 || list[0].Col != 3 || list[0].File != "task.yaml" {
		t.Fatalf("err = %#v", err)
	}
	if want := "task.yaml:2:3: resources.cpus: expected a number\ntask.yaml:4:1: unknown key"; err.Error() != want {
		t.Errorf("got %q, want %q", err.Error(), want)
	}
	if (&api.TaskCheck{}).Err() != nil || (&api.TaskCheck{}).ConfigErr() != nil {
		t.Error("a clean check has no error")
	}
}

// TestOperation: events arrive in order and the channel closes before Wait returns the outcome; Wait alone
// drains what nobody read; a cancelled caller never blocks the operation.
func TestOperation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	op := api.Go(ctx, "", func(_ context.Context, emit func(api.Event)) (int, error) {
		emit(api.Event{Type: api.EventStep, Msg: "one"})
		emit(api.Event{Type: api.EventStep, Msg: "two"})
		return 42, nil
	})
	if len(op.ID) != 36 {
		t.Errorf("request id %q is not a UUID", op.ID)
	}
	var msgs []string
	for e := range op.Events() {
		msgs = append(msgs, e.Msg)
	}
	if got, err := op.Wait(); got != 42 || err != nil || !reflect.DeepEqual(msgs, []string{"one", "two"}) {
		t.Errorf("got %d %v %v", got, err, msgs)
	}

	boom := errors.New("boom")
	unread := api.Go(ctx, "req-1", func(_ context.Context, emit func(api.Event)) (api.Done, error) {
		for range 3 {
			emit(api.Event{Type: api.EventStep})
		}
		return api.Done{}, boom
	})
	if _, err := unread.Wait(); !errors.Is(err, boom) || unread.ID != "req-1" {
		t.Errorf("Wait alone: err %v, id %q", err, unread.ID)
	}
	if _, err := api.Wait(unread, nil); !errors.Is(err, boom) {
		t.Errorf("api.Wait of a finished operation: %v", err)
	}
	if got, err := api.Wait[int](nil, boom); got != 0 || !errors.Is(err, boom) {
		t.Errorf("api.Wait of a call that failed: %d %v", got, err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	gone := api.Go(cctx, "", func(ctx context.Context, emit func(api.Event)) (api.Done, error) {
		emit(api.Event{Type: api.EventStep}) // nobody reads and ctx is done: must not block
		return api.Done{}, ctx.Err()
	})
	if _, err := gone.Wait(); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
