package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/cli"
	jobscancel "github.com/stix-run/stix/internal/cli/cmd/jobs/cancel"
	jobslaunch "github.com/stix-run/stix/internal/cli/cmd/jobs/launch"
	jobslogs "github.com/stix-run/stix/internal/cli/cmd/jobs/logs"
	jobsqueue "github.com/stix-run/stix/internal/cli/cmd/jobs/queue"
	"github.com/stix-run/stix/internal/cli/fakeclient"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/embedded"
	"github.com/stix-run/stix/internal/server"
)

// jobsCore is the server's core for the managed-jobs routes: the fake's answers, recording who each call acted
// as and whether it asked for every user's jobs (what a controller reads from its context).
type jobsCore struct {
	*fakeclient.Client
	mu       sync.Mutex
	user     map[string]string
	allUsers map[string]bool
}

func (c *jobsCore) saw(ctx context.Context, method string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, _ := auth.From(ctx)
	c.user[method], c.allUsers[method] = id.Name, api.AllUsers(ctx)
}

func (c *jobsCore) seen(method string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.user[method], c.allUsers[method]
}

func (c *jobsCore) JobsLaunch(ctx context.Context, req api.JobsLaunchRequest) (*api.Operation[api.JobsLaunchResult], error) {
	c.saw(ctx, "JobsLaunch")
	return c.Client.JobsLaunch(ctx, req)
}

func (c *jobsCore) JobsQueue(ctx context.Context, opts api.JobsQueueOptions) ([]api.ManagedJob, error) {
	c.saw(ctx, "JobsQueue")
	return c.Client.JobsQueue(ctx, opts)
}

func (c *jobsCore) JobsCancel(ctx context.Context, req api.JobsCancelRequest) (*api.Operation[[]api.JobsCancelOutcome], error) {
	c.saw(ctx, "JobsCancel")
	return c.Client.JobsCancel(ctx, req)
}

func (c *jobsCore) JobsLogs(ctx context.Context, id int64, opts api.JobsLogsOptions, w io.Writer) ([]api.ManagedJob, error) {
	c.saw(ctx, "JobsLogs")
	return c.Client.JobsLogs(ctx, id, opts, w)
}

var submittedAt = time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)

// newJobsCore answers as a controller holding job 2 (ada's, a two-task pipeline) and job 1 (bob's).
func newJobsCore() *jobsCore {
	rows := []api.ManagedJob{
		{ID: 2, TaskID: 0, Name: "pipe", TaskName: "train", User: "ada", Status: api.ManagedSucceeded, SubmittedAt: submittedAt},
		{ID: 2, TaskID: 1, Name: "pipe", TaskName: "eval", User: "ada", Status: api.ManagedRecovering, SubmittedAt: submittedAt,
			Recoveries: 1, Events: []api.ManagedJobEvent{{At: submittedAt, Status: api.ManagedRecovering, Reason: "preempted"}}},
		{ID: 1, Name: "other", TaskName: "other", User: "bob", Status: api.ManagedRunning, SubmittedAt: submittedAt},
	}
	return &jobsCore{user: map[string]string{}, allUsers: map[string]bool{}, Client: &fakeclient.Client{
		JobsLaunchEvents: []api.Event{{Type: api.EventStep, Msg: "Submitting managed job"}},
		JobsLaunchFunc: func(r api.JobsLaunchRequest) (api.JobsLaunchResult, error) {
			return api.JobsLaunchResult{IDs: []int64{3}, Name: *r.Task.Overrides.Name}, nil
		},
		JobsQueueFunc: func(api.JobsQueueOptions) ([]api.ManagedJob, error) { return rows, nil },
		JobsCancelFunc: func(r api.JobsCancelRequest) ([]api.JobsCancelOutcome, error) {
			var out []api.JobsCancelOutcome
			for _, id := range r.IDs {
				if id == 9 {
					return nil, &api.ManagedJobNotFoundError{ID: id}
				}
				out = append(out, api.JobsCancelOutcome{ID: id, Status: api.ManagedCancelling})
			}
			return out, nil
		},
		JobsLogsFunc: func(id int64, opts api.JobsLogsOptions, w io.Writer) ([]api.ManagedJob, error) {
			if id != 2 {
				return nil, &api.ManagedJobNotFoundError{ID: id}
			}
			what := "job"
			if opts.Controller {
				what = "controller"
			}
			for i := range 3 {
				fmt.Fprintf(w, "%s line %d\n", what, i)
			}
			return rows[:2], nil
		},
	}}
}

// serveJobs serves the managed-jobs routes over core, every caller having role; it returns a client acting as ada.
func serveJobs(t *testing.T, core api.Client, role auth.Role) (*api.HTTPClient, string) {
	t.Helper()
	_, c, url := serve(t, server.Options{Dir: t.TempDir(), Client: core, Auth: auth.Config{DefaultRole: role}})
	return c, url
}

func TestJobsLaunchIsARequestRunAsTheCaller(t *testing.T) {
	t.Parallel()
	core := newJobsCore()
	var got api.JobsLaunchRequest
	core.JobsLaunchFunc = func(r api.JobsLaunchRequest) (api.JobsLaunchResult, error) {
		got = r
		return api.JobsLaunchResult{IDs: []int64{3}, Name: "train"}, nil
	}
	c, _ := serveJobs(t, core, auth.RoleUser)
	ctx := context.Background()
	name := "train"
	op, err := c.JobsLaunch(ctx, api.JobsLaunchRequest{Task: api.TaskSpec{YAML: "run: a\n---\nrun: b\n", FileName: "p.yaml",
		Overrides: api.TaskOverrides{Name: &name}, Secrets: map[string]string{"HF_TOKEN": "hf-1"}},
		Options: api.JobsLaunchOptions{JobRecovery: "FAILOVER"}})
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for e := range op.Events() {
		events = append(events, e.Msg)
	}
	res, err := op.Wait()
	if err != nil || len(res.IDs) != 1 || res.IDs[0] != 3 || res.Name != "train" {
		t.Fatalf("result %+v, %v", res, err)
	}
	if len(events) != 1 || events[0] != "Submitting managed job" {
		t.Errorf("events %q", events)
	}
	if got.Task.Dir == "" || got.Task.Secrets["HF_TOKEN"] != "hf-1" || got.Options.JobRecovery != "FAILOVER" || got.Task.FileName != "p.yaml" {
		t.Errorf("the core got %+v", got)
	}
	if user, _ := core.seen("JobsLaunch"); user != "ada" {
		t.Errorf("the launch ran as %q, want ada", user)
	}
	q, err := c.Request(ctx, op.ID)
	if err != nil || q.Name != "jobs_launch" || q.User != "ada" || q.Status != api.RequestSucceeded {
		t.Errorf("request recorded as %+v, %v", q, err)
	}
}

func TestJobsQueueShowsTheCallersJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	user, _ := serveJobs(t, newJobsCore(), auth.RoleUser)
	jobs, err := user.JobsQueue(ctx, api.JobsQueueOptions{SkipFinished: true, IDs: []int64{2}, Limit: 5})
	if err != nil || len(jobs) != 2 || jobs[0].User != "ada" || jobs[1].Events[0].Reason != "preempted" {
		t.Fatalf("ada's queue: %+v, %v", jobs, err)
	}
	_, err = user.JobsQueue(api.WithAllUsers(ctx), api.JobsQueueOptions{})
	wantStatus(t, err, http.StatusForbidden, "a user asking for every user's jobs")

	core := newJobsCore()
	var opts api.JobsQueueOptions
	rows := core.JobsQueueFunc
	core.JobsQueueFunc = func(o api.JobsQueueOptions) ([]api.ManagedJob, error) { opts = o; return rows(o) }
	admin, _ := serveJobs(t, core, auth.RoleAdmin)
	if jobs, err := admin.JobsQueue(ctx, api.JobsQueueOptions{}); err != nil || len(jobs) != 2 {
		t.Errorf("an admin's own queue: %+v, %v", jobs, err)
	}
	jobs, err = admin.JobsQueue(api.WithAllUsers(ctx), api.JobsQueueOptions{SkipFinished: true, IDs: []int64{1, 2}, Limit: 7, Offset: 3, Events: true,
		Status: api.ManagedPending, Search: "train 1", Sort: "recoveries", Desc: true})
	if err != nil || len(jobs) != 3 {
		t.Errorf("every user's queue: %+v, %v", jobs, err)
	}
	if _, all := core.seen("JobsQueue"); !all || !opts.SkipFinished || len(opts.IDs) != 2 || opts.Limit != 7 || opts.Offset != 3 || !opts.Events ||
		opts.Status != api.ManagedPending || opts.Search != "train 1" || opts.Sort != "recoveries" || !opts.Desc {
		t.Errorf("the core got %+v, all users %v", opts, all)
	}
}

func TestJobsCancel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	core := newJobsCore()
	user, _ := serveJobs(t, core, auth.RoleUser)
	out, err := api.Wait(user.JobsCancel(ctx, api.JobsCancelRequest{IDs: []int64{2}}))
	if err != nil || len(out) != 1 || out[0].Status != api.ManagedCancelling {
		t.Fatalf("cancel: %+v, %v", out, err)
	}
	if who, all := core.seen("JobsCancel"); who != "ada" || all {
		t.Errorf("cancel ran as %q (all users %v)", who, all)
	}
	// A job the controller does not know comes back typed, through the request's record.
	_, err = api.Wait(user.JobsCancel(ctx, api.JobsCancelRequest{IDs: []int64{9}}))
	var nf *api.ManagedJobNotFoundError
	if !errors.As(err, &nf) || nf.ID != 9 {
		t.Errorf("cancel of job 9: %v (%T), want *api.ManagedJobNotFoundError", err, err)
	}
	_, err = user.JobsCancel(api.WithAllUsers(ctx), api.JobsCancelRequest{All: true})
	wantStatus(t, err, http.StatusForbidden, "a user cancelling every user's jobs")
	reqs, err := user.Requests(ctx, api.RequestFilter{All: true})
	if err != nil || len(reqs) != 2 {
		t.Errorf("a refused cancel is not recorded: %+v, %v", reqs, err)
	}

	admin, _ := serveJobs(t, core, auth.RoleAdmin)
	if _, err := api.Wait(admin.JobsCancel(api.WithAllUsers(ctx), api.JobsCancelRequest{All: true})); err != nil {
		t.Fatal(err)
	}
	if _, all := core.seen("JobsCancel"); !all {
		t.Error("an admin's all-users cancel reached the core without all users")
	}
}

func TestJobsLogs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	core := newJobsCore()
	c, url := serveJobs(t, core, auth.RoleUser)
	var out bytes.Buffer
	tasks, err := c.JobsLogs(ctx, 2, api.JobsLogsOptions{Follow: true}, &out)
	if err != nil || len(tasks) != 2 || tasks[1].Status != api.ManagedRecovering {
		t.Fatalf("logs: %+v, %v", tasks, err)
	}
	if out.String() != "job line 0\njob line 1\njob line 2\n" {
		t.Errorf("output %q", out.String())
	}
	if who, _ := core.seen("JobsLogs"); who != "ada" {
		t.Errorf("logs read as %q", who)
	}
	out.Reset()
	if _, err := c.JobsLogs(ctx, 2, api.JobsLogsOptions{Controller: true}, &out); err != nil || !strings.HasPrefix(out.String(), "controller line 0") {
		t.Errorf("controller log %q, %v", out.String(), err)
	}
	// No ID: the caller's latest job, resolved before the stream (a resumed stream stays on it).
	out.Reset()
	if _, err := c.JobsLogs(ctx, 0, api.JobsLogsOptions{}, &out); err != nil || out.String() != "job line 0\njob line 1\njob line 2\n" {
		t.Errorf("logs of the latest job: %q, %v", out.String(), err)
	}
	_, err = c.JobsLogs(ctx, 5, api.JobsLogsOptions{}, io.Discard)
	var nf *api.ManagedJobNotFoundError
	if !errors.As(err, &nf) || nf.ID != 5 {
		t.Errorf("logs of job 5: %v (%T), want *api.ManagedJobNotFoundError", err, err)
	}
	// A client whose stream broke asks again from the byte it had: the output goes on from there.
	resp, err := http.Get(url + "/api/v1/jobs/2/logs?offset=11")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `{"out":"job line 1\n","offset":22}`; !strings.HasPrefix(string(b), want) {
		t.Errorf("resumed stream %s, want it to begin %s", b, want)
	}
	for _, bad := range []string{"/api/v1/jobs/x/logs", "/api/v1/jobs/-1/logs", "/api/v1/jobs?job_id=y", "/api/v1/jobs?limit=-2"} {
		resp, err := http.Get(url + bad)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s: %d, want 400", bad, resp.StatusCode)
		}
	}
}

// TestJobsVerbsThroughAServer runs the `stix jobs` commands against a real server over HTTP (the core faked):
// what the CLI prints and exits with is what it does against the fake client directly.
func TestJobsVerbsThroughAServer(t *testing.T) {
	t.Parallel()
	core := newJobsCore()
	c, _ := serveJobs(t, core, auth.RoleAdmin)
	run := func(build func(*cli.Factory, func(*struct{}) error) *cobra.Command, args ...string) (string, string, int) {
		out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
		f := &cli.Factory{IOStreams: cli.Test(strings.NewReader(""), out, errOut), Getenv: func(string) string { return "" },
			Now: func() time.Time { return submittedAt.Add(time.Hour) }, ControllerClient: func() (api.Client, error) { return c, nil }}
		cmd := build(f, nil)
		cmd.SetArgs(args)
		cmd.SetOut(out)
		cmd.SetErr(errOut)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		err := cmd.ExecuteContext(context.Background())
		code := 0
		var exit *cli.ExitError
		switch {
		case errors.As(err, &exit):
			code = exit.Code
		case err != nil:
			code = 1
			errOut.WriteString(err.Error())
		}
		return out.String(), errOut.String(), code
	}
	core.ValidateFunc = func(api.TaskSpec) (*api.TaskCheck, error) { return &api.TaskCheck{Tasks: 1}, nil }

	out, errOut, code := run(wrap(jobslaunch.NewCmdLaunch), "-y", "-d", "-n", "train", "echo hi")
	if code != 0 || out != "3\n" || !strings.Contains(errOut, "stix jobs cancel 3") {
		t.Errorf("jobs launch -d: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = run(wrap(jobsqueue.NewCmdQueue), "-u")
	if code != 0 || !strings.Contains(out, "2\t\tpipe\tada\t-\t1 hr ago\t1h\t-\t1\tRECOVERING (task: 1)\n") ||
		!strings.Contains(out, "1\t-\tother\tbob\t") || !strings.Contains(errOut, "In progress tasks: 1 RECOVERING, 1 RUNNING") {
		t.Errorf("jobs queue -u: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, all := core.seen("JobsQueue"); !all {
		t.Error("jobs queue -u did not ask for every user's jobs")
	}
	out, _, code = run(wrap(jobslogs.NewCmdLogs), "2")
	if code != cli.ExitJobNotFinished || out != "job line 0\njob line 1\njob line 2\n" {
		t.Errorf("jobs logs 2: exit %d, stdout %q", code, out)
	}
	_, errOut, code = run(wrap(jobslogs.NewCmdLogs), "5")
	if code != cli.ExitJobNotFound || !strings.Contains(errOut, "managed job 5 not found") {
		t.Errorf("jobs logs 5: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = run(wrap(jobscancel.NewCmdCancel), "-y", "9")
	if code != 0 || !strings.Contains(errOut, "managed job 9 not found") || !strings.Contains(errOut, "No job to cancel.") {
		t.Errorf("jobs cancel 9: exit %d, stderr %q", code, errOut)
	}
}

// wrap adapts a verb's constructor to run's signature (the real run: no runF).
func wrap[O any](build func(*cli.Factory, func(*O) error) *cobra.Command) func(*cli.Factory, func(*struct{}) error) *cobra.Command {
	return func(f *cli.Factory, _ func(*struct{}) error) *cobra.Command { return build(f, nil) }
}

// TestJobsWithoutAController: a server whose core runs no controller (the embedded core alone) says so (501),
// rather than passing on the core's advice to start a server.
func TestJobsWithoutAController(t *testing.T) {
	t.Parallel()
	core := embedded.New(embedded.Options{Core: cluster.Options{Home: t.TempDir()}})
	t.Cleanup(func() { core.Close() })
	c, _ := serveJobs(t, core, auth.RoleUser)
	_, err := c.JobsQueue(context.Background(), api.JobsQueueOptions{})
	wantStatus(t, err, http.StatusNotImplemented, "queue")
	if !strings.Contains(err.Error(), "this API server runs no managed-jobs controller") {
		t.Errorf("queue: %v", err)
	}
	if _, err = c.JobsLogs(context.Background(), 1, api.JobsLogsOptions{}, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "no managed-jobs controller") {
		t.Errorf("logs: %v", err) // in the stream's last line: the stream had begun
	}
	_, err = api.Wait(c.JobsLaunch(context.Background(), api.JobsLaunchRequest{Task: api.TaskSpec{Command: "true"}}))
	if err == nil || !strings.Contains(err.Error(), "no managed-jobs controller") {
		t.Errorf("launch: %v", err)
	}
}
