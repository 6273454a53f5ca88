package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/testutil/fakecloud"
)

// A job runs to SUCCEEDED on its own cluster, named as SkyPilot names job clusters, with the managed-job
// variables set; the cluster is gone afterwards and the output is still there.
func TestJobSucceeds(t *testing.T) {
	t.Parallel()
	w := newWorld(t, twoRegions)
	id := w.launch(t, "name: train\nrun: echo first; echo \"id=$SKYPILOT_MANAGED_JOB_ID task=$SKYPILOT_TASK_ID user=$SKYPILOT_USER\"\n", nil)
	r := w.waitFor(t, id, 0, api.ManagedSucceeded)
	var tail, ctl bytes.Buffer
	if _, err := w.ctl.Client().JobsLogs(context.Background(), 0, api.JobsLogsOptions{Tail: 1, Follow: true}, &tail); err != nil ||
		strings.Count(tail.String(), "\n") != 1 || !strings.Contains(tail.String(), "id=") || strings.Contains(tail.String(), "first") {
		t.Errorf("logs of the latest job, last line: %q, %v", tail.String(), err)
	}
	if _, err := w.ctl.Client().JobsLogs(context.Background(), id, api.JobsLogsOptions{Controller: true}, &ctl); err != nil ||
		!strings.Contains(ctl.String(), "SUCCEEDED (succeeded)") {
		t.Errorf("controller log: %q, %v", ctl.String(), err)
	}
	if r.Name != "train" || r.Recoveries != 0 || r.StartedAt == nil || r.EndedAt == nil || r.Infra == "" {
		t.Errorf("row %+v", r)
	}
	out := w.logs(t, id)
	want := fmt.Sprintf("id=%d task=sky-managed-", id)
	if !strings.Contains(out, want) || !strings.Contains(out, fmt.Sprintf("_train_%d-0 ", id)) {
		t.Errorf("output %q, want %q and the task id", out, want)
	}
	if cs := w.clusters(t); len(cs) != 0 {
		t.Errorf("clusters left: %+v", cs)
	}
	if !strings.Contains(w.controllerLog(id), "launching cluster train-"+fmt.Sprint(id)) {
		t.Errorf("controller log:\n%s", w.controllerLog(id))
	}
	if got := reasons(r); got != "PENDING:submitted STARTING:launching RUNNING:launched SUCCEEDED:succeeded" {
		t.Errorf("events %s", got)
	}
}

// A job whose cluster is preempted mid-run recovers on a new cluster in another region (EAGER_NEXT_REGION),
// resumes from the checkpoint it kept on a path that survives the node, and succeeds with one recovery.
func TestPreemptedJobRecovers(t *testing.T) {
	t.Parallel()
	w := newWorld(t, twoRegions)
	dir := t.TempDir()
	id := w.launch(t, `name: ckpt
envs:
  CKPT: x
run: |
  echo "run $SKYPILOT_TASK_ID"
  if [ -f "$CKPT/step" ]; then echo "resumed from $(cat $CKPT/step)"; exit 0; fi
  echo 7 > "$CKPT/step.tmp" && mv "$CKPT/step.tmp" "$CKPT/step"
  sleep 600
`, map[string]string{"CKPT": dir})
	r := w.waitFor(t, id, 0, api.ManagedRunning)
	waitFile(t, filepath.Join(dir, "step"))
	// The first run's output reached the controller (what a node had not sent when it was lost is lost).
	w.waitOutput(t, id, "run sky-managed-")
	first := r.Cluster
	if err := w.fakes["fk"].Preempt(context.Background(), cloud.ClusterRef{Name: first}); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, id, 0, api.ManagedRecovering, api.ManagedRunning, api.ManagedSucceeded)
	r = w.waitFor(t, id, 0, api.ManagedSucceeded)
	if r.Recoveries != 1 {
		t.Errorf("recoveries %d, want 1", r.Recoveries)
	}
	if !strings.Contains(reasons(r), "RECOVERING:preempted") {
		t.Errorf("events %s", reasons(r))
	}
	out := w.logs(t, id)
	if !strings.Contains(out, "resumed from 7") || strings.Count(out, fmt.Sprintf("run sky-managed-")) != 2 {
		t.Errorf("output %q", out)
	}
	// both runs had the same task id
	if ids := regexp.MustCompile(`run (\S+)`).FindAllStringSubmatch(out, -1); len(ids) != 2 || ids[0][1] != ids[1][1] {
		t.Errorf("task id changed across the recovery: %q", out)
	}
	regions := places(w.fakes["fk"].Attempts())
	if strings.Join(regions, " ") != "r1/r1a r2/r2a" {
		t.Errorf("attempts %v: the recovery should avoid the lost region", regions)
	}
	if cs := w.clusters(t); len(cs) != 0 {
		t.Errorf("clusters left: %+v", cs)
	}
}

// recover_on_exit_codes restarts the task on a listed exit code; an exit code not listed, with no restarts
// left, fails the job and its cluster is torn down.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	w := newWorld(t, twoRegions)
	dir := t.TempDir()
	id := w.launch(t, `resources:
  job_recovery:
    recover_on_exit_codes: [33]
envs:
  M: x
run: |
  if [ -f "$M/once" ]; then exit 0; fi
  touch "$M/once"; exit 33
`, map[string]string{"M": dir})
	r := w.waitFor(t, id, 0, api.ManagedSucceeded)
	if r.Recoveries != 1 || !strings.Contains(reasons(r), "RECOVERING:user_error_restart") {
		t.Errorf("row %+v, events %s", r, reasons(r))
	}
	id = w.launch(t, "run: exit 4\n", nil)
	r = w.waitFor(t, id, 0, api.ManagedFailed)
	if !strings.Contains(r.FailureReason, "exited with code 4") {
		t.Errorf("failure reason %q", r.FailureReason)
	}
	if cs := w.clusters(t); len(cs) != 0 {
		t.Errorf("clusters left: %+v", cs)
	}
}

// A 2-task pipeline runs its tasks one after another, each on its own cluster, with SKYPILOT_TASK_IDS.
func TestPipeline(t *testing.T) {
	t.Parallel()
	w := newWorld(t, twoRegions)
	id := w.launch(t, `name: pipe
---
name: prep
run: echo "prep $SKYPILOT_TASK_ID"
---
name: train
run: |
  echo "train $SKYPILOT_TASK_ID"
  echo "ids $SKYPILOT_TASK_IDS" | tr '\n' ' '
`, nil)
	w.waitFor(t, id, 1, api.ManagedSucceeded)
	rows := w.rows(t, id)
	if len(rows) != 2 || rows[0].Status != api.ManagedSucceeded || rows[0].Name != "pipe" || rows[1].TaskName != "train" {
		t.Fatalf("rows %+v", rows)
	}
	out := w.logs(t, id)
	prep := fmt.Sprintf("_prep_%d-0", id)
	train := fmt.Sprintf("_train_%d-1", id)
	if !strings.Contains(out, prep) || !strings.Contains(out, train) || strings.Index(out, "prep ") > strings.Index(out, "train ") {
		t.Errorf("output %q", out)
	}
	if !strings.Contains(out, "ids sky-managed-") || strings.Count(out, prep) != 2 {
		t.Errorf("SKYPILOT_TASK_IDS missing: %q", out)
	}
	if !strings.Contains(w.controllerLog(id), "cluster prep-"+fmt.Sprint(id)) || !strings.Contains(w.controllerLog(id), "cluster train-"+fmt.Sprint(id)) {
		t.Errorf("controller log:\n%s", w.controllerLog(id))
	}
}

// A pipeline whose second document is invalid is refused with the position, and nothing is recorded; so are
// --num-jobs without a pool (TestPoolBadInput: an unknown pool), an unknown --job-recovery, a cancel of nothing, and an unknown job's logs and cancel.
func TestInvalidPipeline(t *testing.T) {
	t.Parallel()
	w := newWorld(t, twoRegions)
	_, err := w.ctl.Client().JobsLaunch(context.Background(), api.JobsLaunchRequest{Task: api.TaskSpec{FileName: "p.yaml",
		YAML: "run: echo a\n---\nresources:\n  job_recovery:\n    recover_on_exit_codes: [1, x]\nrun: echo b\n"}})
	if err == nil || !strings.Contains(err.Error(), "p.yaml:5:") || !strings.Contains(err.Error(), "recover_on_exit_codes[1]") {
		t.Fatalf("err = %v, want the position of the bad exit code", err)
	}
	if rows, _ := w.ctl.Client().JobsQueue(context.Background(), api.JobsQueueOptions{}); len(rows) != 0 {
		t.Errorf("recorded %+v", rows)
	}
	for _, req := range []api.JobsLaunchRequest{
		{Task: api.TaskSpec{Command: "echo x"}, Options: api.JobsLaunchOptions{NumJobs: 2}},
		{Task: api.TaskSpec{Command: "echo x"}, Options: api.JobsLaunchOptions{JobRecovery: "SOMETIMES"}},
	} {
		var ae *api.Error
		if _, err := w.ctl.Client().JobsLaunch(context.Background(), req); !errors.As(err, &ae) || ae.Code != api.CodeBadRequest {
			t.Errorf("launch %+v: %v, want a bad request", req.Options, err)
		}
	}
	var ae *api.Error
	if _, err := w.ctl.Client().JobsCancel(context.Background(), api.JobsCancelRequest{}); !errors.As(err, &ae) || ae.Code != api.CodeBadRequest {
		t.Errorf("cancel of nothing: %v, want a bad request", err)
	}
	var nf *api.ManagedJobNotFoundError
	if _, err := w.ctl.Client().JobsLogs(context.Background(), 42, api.JobsLogsOptions{}, &bytes.Buffer{}); !errors.As(err, &nf) {
		t.Errorf("logs of an unknown job: %v", err)
	}
	if out, err := api.Wait(w.ctl.Client().JobsCancel(context.Background(), api.JobsCancelRequest{IDs: []int64{42}})); err != nil ||
		len(out) != 1 || out[0].ID != 42 || out[0].Status != "" || !strings.Contains(out[0].Message, "not found") {
		t.Errorf("cancel of an unknown job: %+v, %v; want it skipped with a message", out, err)
	}
	if _, err := w.ctl.Client().JobsCancel(context.Background(), api.JobsCancelRequest{Name: "nope"}); !errors.As(err, &nf) {
		t.Errorf("cancel of an unknown name: %v", err)
	}
}

// With no capacity anywhere the job backs off (PENDING) between tries and ends FAILED_NO_RESOURCE.
func TestNoResource(t *testing.T) {
	t.Parallel()
	o := twoRegions
	o.Script = []fakecloud.Rule{{Fault: fakecloud.Capacity}}
	w := newWorld(t, o)
	id := w.launch(t, "run: echo never\n", nil)
	r := w.waitFor(t, id, 0, api.ManagedFailedNoResource)
	if !strings.Contains(reasons(r), "PENDING:launch_backoff") || !strings.Contains(r.FailureReason, "no resources after 2 launch tries") {
		t.Errorf("row %+v events %s", r, reasons(r))
	}
	if cs := w.clusters(t); len(cs) != 0 {
		t.Errorf("clusters left: %+v", cs)
	}
}

// Cancel works in STARTING (a launch held in flight), RUNNING and RECOVERING; the cluster is gone after.
func TestCancel(t *testing.T) {
	t.Parallel()
	o := twoRegions
	o.Hold = func(ctx context.Context, name string, attempt int) error {
		if strings.HasPrefix(name, "hold") || strings.HasPrefix(name, "lost") && attempt > 1 {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}
	w := newWorld(t, o)
	cancel := func(id int64) {
		t.Helper()
		out, err := api.Wait(w.ctl.Client().JobsCancel(context.Background(), api.JobsCancelRequest{IDs: []int64{id}}))
		if err != nil || len(out) != 1 || out[0].Status != api.ManagedCancelling {
			t.Fatalf("cancel %d: %+v, %v", id, out, err)
		}
	}

	starting := w.launch(t, "name: hold\nrun: echo never\n", nil)
	w.waitFor(t, starting, 0, api.ManagedStarting)
	cancel(starting)
	r := w.waitFor(t, starting, 0, api.ManagedCancelled)
	if !strings.Contains(reasons(r), "CANCELLING:cancelled CANCELLED:cancelled") {
		t.Errorf("events %s", reasons(r))
	}

	running := w.launch(t, "name: run\nrun: sleep 600\n", nil)
	w.waitFor(t, running, 0, api.ManagedRunning)
	cancel(running)
	w.waitFor(t, running, 0, api.ManagedCancelled)

	recovering := w.launch(t, "name: lost\nrun: sleep 600\n", nil)
	r = w.waitFor(t, recovering, 0, api.ManagedRunning)
	if err := w.fakes["fk"].Preempt(context.Background(), cloud.ClusterRef{Name: r.Cluster}); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, recovering, 0, api.ManagedRecovering)
	cancel(recovering)
	w.waitFor(t, recovering, 0, api.ManagedCancelled)

	// cancelling a finished job changes nothing
	out, err := api.Wait(w.ctl.Client().JobsCancel(context.Background(), api.JobsCancelRequest{IDs: []int64{running}}))
	if err != nil || len(out) != 1 || out[0].Status != api.ManagedCancelled || out[0].Message == "" {
		t.Errorf("cancel of a finished job: %+v, %v", out, err)
	}
	if cs := w.clusters(t); len(cs) != 0 {
		t.Errorf("clusters left: %+v", cs)
	}
}

// The real local infra: the job cluster's node is killed mid-job (its agent's and the job's process groups, as
// a machine dies); the controller notices the broken stream, recovers on a new cluster and the job succeeds.
func TestLocalNodeKilled(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	dir := t.TempDir()
	id := w.launch(t, `name: node
envs:
  M: x
run: |
  if [ -f $M/second ]; then echo second run; exit 0; fi
  touch $M/second
  echo $$ > $M/pid.tmp && mv $M/pid.tmp $M/pid
  sleep 600
`, map[string]string{"M": dir})
	r := w.waitFor(t, id, 0, api.ManagedRunning)
	waitFile(t, filepath.Join(dir, "pid"))
	killed := time.Now()
	killNode(t, filepath.Join(w.home, "local", r.Cluster, "agent-0", "agent.pid"), filepath.Join(dir, "pid"))
	r = w.waitFor(t, id, 0, api.ManagedSucceeded)
	logRecovery(t, "kill of the node", r, killed)
	if r.Recoveries != 1 || !strings.Contains(reasons(r), "RECOVERING:preempted") {
		t.Errorf("row %+v, events %s", r, reasons(r))
	}
	if out := w.logs(t, id); !strings.Contains(out, "second run") {
		t.Errorf("output %q", out)
	}
	if cs := w.clusters(t); len(cs) != 0 {
		t.Errorf("clusters left: %+v", cs)
	}
}

// An inline command named with -n runs as a one-task job of that name; its resources show as asked.
func TestInlineCommand(t *testing.T) {
	t.Parallel()
	w := newWorld(t, twoRegions)
	name, cpus := "My_Job.v2", "1+"
	res, err := api.Wait(w.ctl.Client().JobsLaunch(context.Background(), api.JobsLaunchRequest{
		Task: api.TaskSpec{Command: "echo inline $SKYPILOT_MANAGED_JOB_ID", Overrides: api.TaskOverrides{Name: &name, Cpus: &cpus}}}))
	if err != nil || len(res.IDs) != 1 || res.Name != name {
		t.Fatalf("launch: %+v, %v", res, err)
	}
	r := w.waitFor(t, res.IDs[0], 0, api.ManagedSucceeded)
	if r.Name != name || r.TaskName != name || r.Resources != "1x[cpus=1+]" {
		t.Errorf("row %+v", r)
	}
	if out := w.logs(t, r.ID); !strings.Contains(out, fmt.Sprintf("inline %d", r.ID)) {
		t.Errorf("output %q", out)
	}
	if !strings.Contains(w.controllerLog(r.ID), fmt.Sprintf("cluster my-job-v2-%d", r.ID)) {
		t.Errorf("controller log:\n%s", w.controllerLog(r.ID))
	}
}

// A job runs as its owner (its cluster recorded under the owner, SKYPILOT_USER the owner), and only the owner —
// or an admin asking for all users — sees it, follows its logs or cancels it.
func TestOwnerAndAccess(t *testing.T) {
	t.Parallel()
	w := newWorld(t, twoRegions)
	as := func(name string, role auth.Role) context.Context {
		return auth.With(context.Background(), auth.Identity{Name: name, Role: role, Method: "token"})
	}
	alice, bob, admin := as("alice", auth.RoleUser), as("bob", auth.RoleUser), as("root", auth.RoleAdmin)
	dir := t.TempDir()
	res, err := api.Wait(w.ctl.Client().JobsLaunch(alice, api.JobsLaunchRequest{Task: api.TaskSpec{FileName: "a.yaml",
		YAML: "name: mine\nenvs:\n  M: x\nrun: |\n  echo \"user=$SKYPILOT_USER\"\n  until [ -f $M/go ]; do sleep 0.05; done\n",
		Env:  map[string]string{"M": dir}}}))
	if err != nil {
		t.Fatal(err)
	}
	id := res.IDs[0]
	r := w.waitFor(t, id, 0, api.ManagedRunning)
	if r.User != "alice" {
		t.Errorf("job user %q", r.User)
	}
	if cs := w.clusters(t); len(cs) != 1 || cs[0].User != "alice" {
		t.Errorf("job cluster %+v, want alice's", cs)
	}
	queue := func(ctx context.Context) int {
		rows, err := w.ctl.Client().JobsQueue(ctx, api.JobsQueueOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(rows)
	}
	if queue(alice) != 1 || queue(bob) != 0 || queue(admin) != 0 || queue(api.WithAllUsers(admin)) != 1 || queue(api.WithAllUsers(bob)) != 0 {
		t.Errorf("queues: alice %d, bob %d, admin %d, admin -u %d, bob -u %d", queue(alice), queue(bob), queue(admin),
			queue(api.WithAllUsers(admin)), queue(api.WithAllUsers(bob)))
	}
	var nf *api.ManagedJobNotFoundError
	if _, err := w.ctl.Client().JobsLogs(bob, id, api.JobsLogsOptions{}, &bytes.Buffer{}); !errors.As(err, &nf) {
		t.Errorf("bob reads alice's logs: %v", err)
	}
	if out, err := api.Wait(w.ctl.Client().JobsCancel(bob, api.JobsCancelRequest{IDs: []int64{id}})); err != nil || len(out) != 1 || out[0].Status != "" {
		t.Errorf("bob cancels alice's job: %+v, %v; want it skipped as not found", out, err)
	}
	if out, err := api.Wait(w.ctl.Client().JobsCancel(bob, api.JobsCancelRequest{All: true})); err != nil || len(out) != 0 {
		t.Errorf("bob cancels all his jobs: %+v, %v", out, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, id, 0, api.ManagedSucceeded)
	var out bytes.Buffer
	if _, err := w.ctl.Client().JobsLogs(alice, 0, api.JobsLogsOptions{}, &out); err != nil || !strings.Contains(out.String(), "user=alice") {
		t.Errorf("alice's latest job's logs: %q, %v", out.String(), err)
	}
}

// A worker node of a 2-node job cluster dies mid-job (its agent's and its rank's process groups killed): the job
// fails on the cluster, but the cluster is no longer UP, so it is a lost cluster — not the user's error — and the
// job recovers and succeeds. The job cluster's head fails fast (LaunchOptions.FailFastOnNodeLoss): it gives the
// job up as soon as the worker's agent has refused connections for agent.AgentGoneAfter, so the controller
// learns of it within seconds; kill → RECOVERING is logged (BENCHMARKS.md).
func TestWorkerNodeKilled(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	dir := t.TempDir()
	id := w.launch(t, `name: gang
num_nodes: 2
envs:
  M: x
run: |
  if [ -f $M/second ]; then echo "second run rank $SKYPILOT_NODE_RANK"; exit 0; fi
  if [ "$SKYPILOT_NODE_RANK" = 1 ]; then echo $$ > $M/pid.tmp && mv $M/pid.tmp $M/pid; fi
  sleep 600
`, map[string]string{"M": dir})
	r := w.waitFor(t, id, 0, api.ManagedRunning)
	waitFile(t, filepath.Join(dir, "pid"))
	if err := os.WriteFile(filepath.Join(dir, "second"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	killNode(t, filepath.Join(w.home, "local", r.Cluster, "agent-1", "agent.pid"), filepath.Join(dir, "pid"))
	r = w.waitFor(t, id, 0, api.ManagedSucceeded)
	if r.Recoveries != 1 || !strings.Contains(reasons(r), "RECOVERING:preempted") {
		t.Errorf("row %+v, events %s\n%s", r, reasons(r), w.controllerLog(id))
	}
	logRecovery(t, "kill of the worker node", r, killed)
	// The job cluster's head was configured to fail fast (LaunchOptions.FailFastOnNodeLoss): it gave the job up
	// after the short grace, not after waiting for a `stix start` that never comes.
	if out := w.logs(t, id); !strings.Contains(out, "refused connections past the 2s grace") {
		t.Errorf("the head did not fail fast; output %q", out)
	}
	if out := w.logs(t, id); !strings.Contains(out, "second run rank 1") {
		t.Errorf("output %q", out)
	}
}

// Credentials refused everywhere, or a task nothing enabled can run, end FAILED_PRECHECKS at once: no backoff.
func TestPrechecks(t *testing.T) {
	t.Parallel()
	o := twoRegions
	o.Script = []fakecloud.Rule{{Fault: fakecloud.Auth}}
	w := newWorld(t, o)
	id := w.launch(t, "run: echo never\n", nil)
	r := w.waitFor(t, id, 0, api.ManagedFailedPrechecks)
	if strings.Contains(reasons(r), "PENDING:launch_backoff") || !strings.Contains(r.FailureReason, "refused the credentials") {
		t.Errorf("row %+v events %s", r, reasons(r))
	}
	id = w.launch(t, "resources:\n  accelerators: H100:8\nrun: echo never\n", nil)
	r = w.waitFor(t, id, 0, api.ManagedFailedPrechecks)
	if !strings.Contains(r.FailureReason, "no infra can run the task") {
		t.Errorf("row %+v events %s", r, reasons(r))
	}
	if cs := w.clusters(t); len(cs) != 0 {
		t.Errorf("clusters left: %+v", cs)
	}
}

// A job backing off between launch tries (PENDING) is cancelled at once, without waiting for the next try.
func TestCancelWhileBackingOff(t *testing.T) {
	t.Parallel()
	o := twoRegions
	o.Script = []fakecloud.Rule{{Fault: fakecloud.Capacity}}
	w := newWorld(t, o)
	w.ctl.Close()
	w.opts.Limits = Limits{MaxLaunchTries: 5, Backoff: time.Hour, MaxBackoff: time.Hour}
	w.start(t)
	id := w.launch(t, "run: echo never\n", nil)
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(reasons(w.rows(t, id)[0]), "PENDING:launch_backoff") {
		if time.Now().After(deadline) {
			t.Fatalf("never backed off: %s", reasons(w.rows(t, id)[0]))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := api.Wait(w.ctl.Client().JobsCancel(context.Background(), api.JobsCancelRequest{All: true})); err != nil {
		t.Fatal(err)
	}
	r := w.waitFor(t, id, 0, api.ManagedCancelled)
	if !strings.HasSuffix(reasons(r), "PENDING:launch_backoff CANCELLING:cancelled CANCELLED:cancelled") {
		t.Errorf("events %s", reasons(r))
	}
}
