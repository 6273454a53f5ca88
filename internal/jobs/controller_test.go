package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/providers"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/embedded"
	"github.com/stix-run/stix/internal/store"
	"github.com/stix-run/stix/internal/testutil"
	"github.com/stix-run/stix/internal/testutil/fakecloud"
	"github.com/stix-run/stix/internal/testutil/pgtest"
)

func TestMain(m *testing.M) {
	if home := os.Getenv(childHomeEnv); home != "" {
		os.Exit(runChild(home))
	}
	// A static agent, so that it also runs in Docker node containers (RunWithAgent builds one otherwise).
	if os.Getenv(testutil.AgentBinaryEnv) == "" {
		dir, err := os.MkdirTemp("", "stix-agent-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		bin := filepath.Join(dir, "stix-agent")
		build := exec.Command("go", "build", "-o", bin, "github.com/stix-run/stix/cmd/stix-agent")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build stix-agent:", err)
			os.Exit(1)
		}
		os.Setenv(testutil.AgentBinaryEnv, bin)
		code := testutil.RunWithAgent(m)
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(testutil.RunWithAgent(m))
}

// world is a controller over a real embedded core whose infra are scripted fake clouds (their nodes real
// stix-agent processes on this machine), and a real SQLite store.
type world struct {
	home  string
	core  *embedded.Client
	st    store.Store
	ctl   *Controller
	fakes map[string]*fakecloud.Provider
	opts  Options
}

var testLimits = Limits{MaxLaunchTries: 2, Backoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}

func newWorld(t *testing.T, clouds ...fakecloud.Options) *world {
	t.Helper()
	return newWorldAt(t, t.TempDir(), clouds...)
}

// core builds an embedded core over home whose infra are the fake clouds; built receives the fakes once the
// core first runs.
func core(home, db string, built []*fakecloud.Provider, clouds ...fakecloud.Options) (*embedded.Client, error) {
	var (
		ds      []cloud.Descriptor
		enabled []string
	)
	for i, o := range clouds {
		ds = append(ds, fakecloud.Descriptor(o, &built[i]))
		enabled = append(enabled, o.Name)
	}
	reg, err := providers.Build(providers.Config{Home: home}, ds...)
	if err != nil {
		return nil, err
	}
	if len(clouds) == 0 { // the default providers, local infra (this machine) the only one enabled
		reg, enabled = nil, []string{}
	}
	return embedded.New(embedded.Options{Core: cluster.Options{Home: home, Registry: reg, User: "tester", DB: db, DBOrigin: "the test",
		EnabledInfra:  func(context.Context) ([]string, error) { return enabled, nil },
		CatalogSource: func() (catalog.Source, error) { return catalog.Dir(catalogDir), nil }}}), nil
}

// catalogDir is the shared catalog snapshot (local infra reads it), set by the first world.
var (
	catalogDir  string
	catalogOnce sync.Once
)

func newWorldAt(t *testing.T, home string, clouds ...fakecloud.Options) *world {
	t.Helper()
	return newWorldDB(t, home, "", "server", clouds...)
}

// newWorldDB is a world over home whose state is the PostgreSQL database db ("" for SQLite under home) and
// whose controller keeps its files in home/dir.
func newWorldDB(t *testing.T, home, db, dir string, clouds ...fakecloud.Options) *world {
	t.Helper()
	catalogOnce.Do(func() { catalogDir = testutil.SharedDir(t, "catalogs/v7") })
	built := make([]*fakecloud.Provider, len(clouds))
	core, err := core(home, db, built, clouds...)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenAt(context.Background(), store.Location{Home: home, DB: db, DBOrigin: "the test"})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{home: home, core: core, st: st, fakes: map[string]*fakecloud.Provider{},
		opts: Options{Core: core, State: st, Dir: filepath.Join(home, dir), Limits: testLimits, Scan: 200 * time.Millisecond}}
	w.start(t)
	// The providers are built on the core's first use.
	if _, err := core.Status(context.Background(), nil, false); err != nil {
		t.Fatal(err)
	}
	for i, o := range clouds {
		w.fakes[o.Name] = built[i]
	}
	t.Cleanup(func() {
		w.ctl.Close()
		ctx := context.Background()
		cs, _ := core.Status(ctx, nil, false)
		for _, c := range cs {
			if _, err := api.Wait(core.Down(ctx, c.Name, true)); err != nil {
				t.Errorf("cleanup: down %s: %v", c.Name, err)
			}
		}
		core.Close()
		st.Close()
	})
	return w
}

// start starts a (new) controller over the world's store and core.
func (w *world) start(t *testing.T) {
	t.Helper()
	ctl, err := New(w.opts)
	if err != nil {
		t.Fatal(err)
	}
	ctl.Start()
	w.ctl = ctl
}

func (w *world) launch(t *testing.T, yaml string, env map[string]string) int64 {
	t.Helper()
	res, err := api.Wait(w.ctl.Client().JobsLaunch(context.Background(), api.JobsLaunchRequest{
		Task: api.TaskSpec{YAML: yaml, FileName: "job.yaml", Env: env}}))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.IDs) != 1 {
		t.Fatalf("launch: %+v", res)
	}
	return res.IDs[0]
}

// rows returns job id's rows.
func (w *world) rows(t *testing.T, id int64) []api.ManagedJob {
	t.Helper()
	rows, err := w.ctl.Client().JobsQueue(context.Background(), api.JobsQueueOptions{IDs: []int64{id}})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// waitFor polls until task 0 of job id (or the task given) is in one of the states, and returns its row.
func (w *world) waitFor(t *testing.T, id int64, task int, states ...api.ManagedJobStatus) api.ManagedJob {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var last []api.ManagedJob
	for time.Now().Before(deadline) {
		last = w.rows(t, id)
		for _, r := range last {
			if r.TaskID != task {
				continue
			}
			for _, s := range states {
				if r.Status == s {
					return r
				}
			}
			if r.Status.Terminal() {
				t.Fatalf("job %d task %d ended %s (%s), want %v; controller log:\n%s", id, task, r.Status, r.FailureReason, states, w.controllerLog(id))
			}
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline, not synchronising by sleeping
	}
	t.Fatalf("job %d task %d not %v in time: %+v; controller log:\n%s", id, task, states, last, w.controllerLog(id))
	return api.ManagedJob{}
}

func (w *world) controllerLog(id int64) string {
	b, _ := os.ReadFile(filepath.Join(w.opts.Dir, "jobs", fmt.Sprint(id), ControllerLog))
	return string(b)
}

func (w *world) logs(t *testing.T, id int64) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := w.ctl.Client().JobsLogs(context.Background(), id, api.JobsLogsOptions{}, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// waitOutput polls until the job's kept output holds want.
func (w *world) waitOutput(t *testing.T, id int64, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(w.logs(t, id), want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("job %d's output never held %q: %q", id, want, w.logs(t, id))
}

// clusters lists the live clusters.
func (w *world) clusters(t *testing.T) []api.Cluster {
	t.Helper()
	cs, err := w.core.Status(context.Background(), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// waitFile polls until path exists.
func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", path)
}

func reasons(r api.ManagedJob) string {
	var l []string
	for _, e := range r.Events {
		l = append(l, string(e.Status)+":"+e.Reason)
	}
	return strings.Join(l, " ")
}

var twoRegions = fakecloud.Options{Name: "fk", Places: []fakecloud.Place{{Region: "r1", Zone: "r1a", Price: 1}, {Region: "r2", Zone: "r2a", Price: 2}}}

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

func places(as []fakecloud.Attempt) []string {
	var out []string
	for _, a := range as {
		s := a.Region + "/" + a.Zone
		if a.Err != nil {
			s += "!"
		}
		out = append(out, s)
	}
	return out
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

// A pipeline whose second document is invalid is refused with the position, and nothing is recorded.
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
	var nf *api.ManagedJobNotFoundError
	if _, err := w.ctl.Client().JobsLogs(context.Background(), 42, api.JobsLogsOptions{}, &bytes.Buffer{}); !errors.As(err, &nf) {
		t.Errorf("logs of an unknown job: %v", err)
	}
	if _, err := w.ctl.Client().JobsCancel(context.Background(), api.JobsCancelRequest{IDs: []int64{42}}); !errors.As(err, &nf) {
		t.Errorf("cancel of an unknown job: %v", err)
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

// A controller that stops with jobs in flight leaves them as they are; the next one re-attaches to a task
// still running, and recovers one whose cluster went away meanwhile (reason controller_restart). None fails.
func TestControllerRestart(t *testing.T) {
	t.Parallel()
	w := newWorld(t, twoRegions)
	dir := t.TempDir()
	still := w.launch(t, "name: still\nenvs:\n  M: x\nrun: |\n  echo before\n  until [ -f $M/go ]; do sleep 0.05; done\n  echo after\n", map[string]string{"M": dir})
	gone := w.launch(t, "name: gone\nenvs:\n  M: x\nrun: |\n  if [ -f $M/gone ]; then echo second; exit 0; fi\n  touch $M/gone; sleep 600\n", map[string]string{"M": dir})
	w.waitFor(t, still, 0, api.ManagedRunning)
	rg := w.waitFor(t, gone, 0, api.ManagedRunning)
	waitFile(t, filepath.Join(dir, "gone"))
	w.ctl.Close()
	if err := w.fakes["fk"].Preempt(context.Background(), cloud.ClusterRef{Name: rg.Cluster}); err != nil {
		t.Fatal(err)
	}
	w.start(t)
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r := w.waitFor(t, still, 0, api.ManagedSucceeded)
	if r.Recoveries != 0 || !strings.Contains(reasons(r), "RUNNING:reattached") {
		t.Errorf("re-attached job: %+v, events %s; controller log:\n%s", r, reasons(r), w.controllerLog(still))
	}
	if out := w.logs(t, still); !strings.Contains(out, "before") || !strings.Contains(out, "after") {
		t.Errorf("output %q", out)
	}
	r = w.waitFor(t, gone, 0, api.ManagedSucceeded)
	if r.Recoveries != 1 || !strings.Contains(reasons(r), "RECOVERING:controller_restart") {
		t.Errorf("recovered job: %+v, events %s", r, reasons(r))
	}
}

// The child process of TestControllerKilled: a controller over home that submits $STIX_JOBS_CHILD_N jobs of
// $STIX_JOBS_CHILD_YAML and runs them until it is killed.
const childHomeEnv = "STIX_JOBS_CHILD_HOME"

func runChild(home string) int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "child:", err); return 1 }
	db := os.Getenv("STIX_JOBS_CHILD_DB")
	c, err := core(home, db, make([]*fakecloud.Provider, 1), twoRegions)
	if err != nil {
		return fail(err)
	}
	st, err := store.OpenAt(context.Background(), store.Location{Home: home, DB: db, DBOrigin: "the test"})
	if err != nil {
		return fail(err)
	}
	ttl, err := time.ParseDuration(os.Getenv("STIX_JOBS_CHILD_TTL"))
	if err != nil {
		return fail(err)
	}
	ctl, err := New(Options{Core: c, State: st, Dir: filepath.Join(home, os.Getenv("STIX_JOBS_CHILD_DIR")), LeaseTTL: ttl, Scan: 200 * time.Millisecond})
	if err != nil {
		return fail(err)
	}
	ctl.Start()
	n, _ := strconv.Atoi(os.Getenv("STIX_JOBS_CHILD_N"))
	for range n {
		_, err := api.Wait(ctl.Client().JobsLaunch(context.Background(), api.JobsLaunchRequest{
			Task: api.TaskSpec{YAML: os.Getenv("STIX_JOBS_CHILD_YAML"), FileName: "job.yaml", Env: map[string]string{"M": os.Getenv("STIX_JOBS_CHILD_M")}}}))
		if err != nil {
			return fail(err)
		}
	}
	select {} // until killed
}

// A controller process killed with kill -9 while its jobs run, its jobs are taken over by the next
// controller and re-attached, and every job succeeds; none is FAILED_CONTROLLER. Over the same server directory
// (the server restarted) the dead process's leases are taken over at once (they would outlive the test
// otherwise); by another server on the same PostgreSQL, once they lapse — and never while the first one lives.
func TestControllerKilled(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		postgres bool
		dir      string // the killed controller's directory; the next one's is "server"
		ttl      time.Duration
		jobs     int
	}{
		{name: "restarted server, SQLite", dir: "server", ttl: time.Hour, jobs: 50},
		{name: "another server, PostgreSQL", postgres: true, dir: "server-a", ttl: 2 * time.Second, jobs: 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := ""
			if tc.postgres {
				db = pgtest.Shared(t).NewDatabase(t)
			}
			controllerKilled(t, db, tc.dir, tc.ttl, tc.jobs)
		})
	}
}

func controllerKilled(t *testing.T, db, dir string, ttl time.Duration, n int) {
	home, marks := t.TempDir(), t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childHomeEnv+"="+home, "STIX_JOBS_CHILD_N="+strconv.Itoa(n), "STIX_JOBS_CHILD_M="+marks,
		"STIX_JOBS_CHILD_DB="+db, "STIX_JOBS_CHILD_DIR="+dir, "STIX_JOBS_CHILD_TTL="+ttl.String(),
		"STIX_JOBS_CHILD_YAML=name: k\nenvs:\n  M: x\nrun: |\n  echo \"start $SKYPILOT_MANAGED_JOB_ID\"\n  until [ -f $M/go ]; do sleep 0.1; done\n  echo \"end $SKYPILOT_MANAGED_JOB_ID\"\n")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	st, err := store.OpenAt(context.Background(), store.Location{Home: home, DB: db, DBOrigin: "the test"})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := OpenStore(st)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		rows, err := js.Queue(context.Background(), Filter{}, time.Now())
		running := 0
		for _, r := range rows {
			if r.Status == api.ManagedRunning {
				running++
			}
		}
		if err == nil && running == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs never all RUNNING: %d of %d (%v)", running, n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	st.Close()
	var w *world
	if dir != "server" {
		// Another server, live while the first one runs the jobs: it looks for jobs to take and finds none.
		w = newWorldDB(t, home, db, "server", twoRegions)
		for w.ctl.scans.Load() < 3 {
			if time.Now().After(deadline) {
				t.Fatal("the second controller never scanned")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if got := w.ctl.Running(); got != 0 {
			t.Fatalf("the second controller runs %d jobs that the first one holds", got)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed = true
	if w == nil {
		w = newWorldDB(t, home, db, "server", twoRegions)
	}
	if err := os.WriteFile(filepath.Join(marks, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for id := int64(1); id <= int64(n); id++ {
		r := w.waitFor(t, id, 0, api.ManagedSucceeded)
		if r.Recoveries != 0 || strings.Count(reasons(r), "RUNNING:reattached") != 1 || strings.Count(reasons(r), "RUNNING:launched") != 1 {
			t.Errorf("job %d: %+v, events %s", id, r, reasons(r))
		}
		if out := w.logs(t, id); !strings.Contains(out, fmt.Sprintf("end %d", id)) {
			t.Errorf("job %d output %q", id, out)
		}
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

// killNode kills, with SIGKILL, the process groups of the pids in the files: a local node's agent and its job.
func killNode(t *testing.T, pidFiles ...string) {
	t.Helper()
	for _, f := range pidFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		pgid, err := syscall.Getpgid(pid)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
}

// logRecovery logs how long after the loss (at killed) the task went RECOVERING and RUNNING again, against the
// baseline of its first launch (submitted to RUNNING), for BENCHMARKS.md.
func logRecovery(t *testing.T, what string, r api.ManagedJob, killed time.Time) {
	t.Helper()
	var submitted, first, recovering, again time.Time
	for _, e := range r.Events {
		switch {
		case e.Status == api.ManagedPending && submitted.IsZero():
			submitted = e.At
		case e.Status == api.ManagedRunning && first.IsZero():
			first = e.At
		case e.Status == api.ManagedRecovering && recovering.IsZero():
			recovering = e.At
		case e.Status == api.ManagedRunning && e.At.After(killed) && again.IsZero():
			again = e.At
		}
	}
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	t.Logf("%s -> RECOVERING %s, -> RUNNING again %s; first launch (submitted -> RUNNING) %s; recovery/launch = %.2f",
		what, ms(recovering.Sub(killed)), ms(again.Sub(killed)), ms(first.Sub(submitted)),
		float64(again.Sub(killed))/float64(first.Sub(submitted)))
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
	if _, err := w.ctl.Client().JobsCancel(bob, api.JobsCancelRequest{IDs: []int64{id}}); !errors.As(err, &nf) {
		t.Errorf("bob cancels alice's job: %v", err)
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

// A cancel asked through another server (same database) reaches the controller that runs the job at its next
// lease renewal; the other server never runs the job.
func TestCancelThroughAnotherServer(t *testing.T) {
	t.Parallel()
	w := newWorld(t, twoRegions)
	w.ctl.Close()
	w.opts.LeaseTTL = 900 * time.Millisecond
	w.start(t)
	id := w.launch(t, "name: far\nrun: sleep 600\n", nil)
	w.waitFor(t, id, 0, api.ManagedRunning)
	other := w.opts
	other.Dir = filepath.Join(w.home, "server-b")
	b, err := New(other)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	out, err := api.Wait(b.Client().JobsCancel(context.Background(), api.JobsCancelRequest{IDs: []int64{id}}))
	if err != nil || len(out) != 1 || out[0].Status != api.ManagedCancelling {
		t.Fatalf("cancel through the other server: %+v, %v", out, err)
	}
	if b.Running() != 0 {
		t.Error("the other server runs the job")
	}
	w.waitFor(t, id, 0, api.ManagedCancelled)
	if cs := w.clusters(t); len(cs) != 0 {
		t.Errorf("clusters left: %+v", cs)
	}
}

// A worker node of a 2-node job cluster dies mid-job (its agent's and its rank's process groups killed): the job
// fails on the cluster, but the cluster is no longer UP, so it is a lost cluster — not the user's error — and the
// job recovers and succeeds. (The head agent takes ~30 s to give the job up when a worker's agent is gone: the
// controller learns of it then.)
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
	killNode(t, filepath.Join(w.home, "local", r.Cluster, "agent-1", "agent.pid"), filepath.Join(dir, "pid"))
	r = w.waitFor(t, id, 0, api.ManagedSucceeded)
	if r.Recoveries != 1 || !strings.Contains(reasons(r), "RECOVERING:preempted") {
		t.Errorf("row %+v, events %s\n%s", r, reasons(r), w.controllerLog(id))
	}
	if out := w.logs(t, id); !strings.Contains(out, "second run rank 1") {
		t.Errorf("output %q", out)
	}
}
