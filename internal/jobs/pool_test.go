package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
)

// applyPool applies a pool from yaml (its $M set to dir) and returns its name.
func (w *world) applyPool(t *testing.T, name, yaml string, env map[string]string) {
	t.Helper()
	res, err := api.Wait(w.ctl.Client().PoolApply(context.Background(), api.PoolApplyRequest{Name: name,
		Task: &api.TaskSpec{YAML: yaml, FileName: "pool.yaml", Env: env}}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Name != name || !res.Created || res.Version != 1 {
		t.Fatalf("apply: %+v", res)
	}
}

// waitPool polls until pool name satisfies ok, and returns it.
func (w *world) waitPool(t *testing.T, name, what string, ok func(api.Pool) bool) api.Pool {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var last []api.Pool
	var err error
	for time.Now().Before(deadline) {
		last, err = w.ctl.Client().PoolStatus(context.Background(), []string{name})
		if err == nil && len(last) == 1 && ok(last[0]) {
			return last[0]
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline, not synchronising by sleeping
	}
	b, _ := os.ReadFile(filepath.Join(w.opts.Dir, "pools", name, PoolControllerLog))
	t.Fatalf("pool %s not %s in time: %+v, %v; pool log:\n%s", name, what, last, err, b)
	return api.Pool{}
}

func readyWorkers(n int) func(api.Pool) bool {
	return func(p api.Pool) bool {
		return p.Status == api.PoolReady && p.ReadyWorkers == n && len(p.WorkerList) == n
	}
}

func (w *world) poolLaunch(t *testing.T, pool string, n int, yaml string, env map[string]string) []int64 {
	t.Helper()
	res, err := api.Wait(w.ctl.Client().JobsLaunch(context.Background(), api.JobsLaunchRequest{
		Task: api.TaskSpec{YAML: yaml, FileName: "job.yaml", Env: env}, Options: api.JobsLaunchOptions{Pool: pool, NumJobs: n}}))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.IDs) != n {
		t.Fatalf("launch: %+v", res)
	}
	return res.IDs
}

func clusterNames(cs []api.Cluster) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	sort.Strings(out)
	return out
}

// poolYAML is a pool whose setup leaves one file per worker run of it.
const poolYAML = `pool:
  workers: 2
envs:
  M: x
setup: |
  echo "setup in $HOME, pid $$" >> $M/setups
`

// A 2-worker pool runs 3 jobs submitted at once (--num-jobs 3): each on an idle worker, never more than 2 at
// once, the third PENDING until a worker is free, ranks 0..2, no cluster made for any job and setup run once
// per worker; `jobs cancel -p` cancels a pool's jobs and frees its workers; `pool down` leaves nothing.
func TestPoolRunsJobsOnWorkers(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	dir := t.TempDir()
	env := map[string]string{"M": dir}
	w.applyPool(t, "p", poolYAML, env)
	w.waitPool(t, "p", "READY with 2 workers", readyWorkers(2))
	clusters := clusterNames(w.clusters(t))
	if !slices.Equal(clusters, []string{"p-1", "p-2"}) {
		t.Fatalf("clusters %v", clusters)
	}
	started := time.Now()
	ids := w.poolLaunch(t, "p", 3, `name: batch
run: |
  date +%s%N > $M/start.$SKYPILOT_JOB_RANK
  echo "rank=$SKYPILOT_JOB_RANK of $SKYPILOT_NUM_JOBS id=$SKYPILOT_MANAGED_JOB_ID"
  while [ ! -f $M/go ]; do sleep 0.05; done
  date +%s%N > $M/end.$SKYPILOT_JOB_RANK
`, env)
	w.waitFor(t, ids[0], 0, api.ManagedRunning)
	w.waitFor(t, ids[1], 0, api.ManagedRunning)
	w.waitReason(t, ids[2], "PENDING:waiting_for_worker")
	firstRunning := w.rows(t, ids[0])[0]
	t.Logf("launch --pool -> RUNNING on an idle worker: %s", firstRunning.Events[len(firstRunning.Events)-1].At.Sub(started).Round(time.Millisecond))
	if got := clusterNames(w.clusters(t)); !slices.Equal(got, clusters) {
		t.Errorf("clusters while jobs run %v, want only the workers %v", got, clusters)
	}
	p := w.waitPool(t, "p", "with both workers used", func(p api.Pool) bool {
		return p.WorkerList[0].JobID != 0 && p.WorkerList[1].JobID != 0
	})
	if used := []int64{p.WorkerList[0].JobID, p.WorkerList[1].JobID}; !slices.Contains(used, ids[0]) || !slices.Contains(used, ids[1]) {
		t.Errorf("workers used by %v, want jobs %v", used, ids[:2])
	}
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for rank, id := range ids {
		r := w.waitFor(t, id, 0, api.ManagedSucceeded)
		if r.Pool != "p" || r.Recoveries != 0 {
			t.Errorf("job %d: %+v", id, r)
		}
		if out := w.logs(t, id); !strings.Contains(out, fmt.Sprintf("rank=%d of 3 id=%d", rank, id)) {
			t.Errorf("job %d output %q", id, out)
		}
	}
	if got := reasons(w.rows(t, ids[2])[0]); !strings.HasPrefix(got, "PENDING:submitted PENDING:waiting_for_worker STARTING:launching RUNNING:launched") {
		t.Errorf("third job's events %s", got)
	}
	if n := maxOverlap(t, dir, 3); n > 2 {
		t.Errorf("%d jobs ran at once on 2 workers", n)
	}
	if got := clusterNames(w.clusters(t)); !slices.Equal(got, clusters) {
		t.Errorf("clusters after the jobs %v, want %v", got, clusters)
	}
	if n, setups := countSetups(dir); n != 2 {
		t.Errorf("setup ran %d times, want once per worker: %q", n, setups)
	}

	// Cancel by pool: both jobs that hold the workers, and one waiting.
	more := w.poolLaunch(t, "p", 3, "run: sleep 600\n", nil)
	w.waitFor(t, more[0], 0, api.ManagedRunning)
	w.waitFor(t, more[1], 0, api.ManagedRunning)
	outs, err := api.Wait(w.ctl.Client().JobsCancel(context.Background(), api.JobsCancelRequest{Pool: "p"}))
	if err != nil || len(outs) != 3 {
		t.Fatalf("cancel -p: %+v, %v", outs, err)
	}
	for _, id := range more {
		w.waitFor(t, id, 0, api.ManagedCancelled)
	}
	w.waitPool(t, "p", "with both workers idle", func(p api.Pool) bool {
		return readyWorkers(2)(p) && p.WorkerList[0].JobID == 0 && p.WorkerList[1].JobID == 0
	})

	if _, err := api.Wait(w.ctl.Client().PoolDown(context.Background(), api.PoolDownRequest{Names: []string{"p"}})); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := w.ctl.Client().PoolStatus(context.Background(), []string{"p"})
		var nf *api.PoolNotFoundError
		if errors.As(err, &nf) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool still there after down: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if cs := w.clusters(t); len(cs) != 0 {
		t.Errorf("clusters left after pool down: %v", clusterNames(cs))
	}
}

// countSetups counts the runs of poolYAML's setup that wrote to dir.
func countSetups(dir string) (int, string) {
	b, _ := os.ReadFile(filepath.Join(dir, "setups"))
	return strings.Count(string(b), "\n"), string(b)
}

// waitReason polls until job id's events hold the state change want ("STATUS:reason").
func (w *world) waitReason(t *testing.T, id int64, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(reasons(w.rows(t, id)[0]), want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("job %d never had %s: %s", id, want, reasons(w.rows(t, id)[0]))
}

// maxOverlap reads the start and end times the n jobs wrote and returns how many ran at once at most.
func maxOverlap(t *testing.T, dir string, n int) int {
	t.Helper()
	read := func(name string) int64 {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	type span struct{ start, end int64 }
	var spans []span
	for i := range n {
		spans = append(spans, span{read(fmt.Sprintf("start.%d", i)), read(fmt.Sprintf("end.%d", i))})
	}
	most := 0
	for _, s := range spans {
		at := 0
		for _, o := range spans {
			if o.start <= s.start && s.start < o.end {
				at++
			}
		}
		most = max(most, at)
	}
	return most
}

// A worker whose node dies under its job (the agent's and the job's process groups killed) is replaced by the
// pool, and the job recovers on it: RECOVERING (preempted), then RUNNING and SUCCEEDED, with one recovery.
func TestPoolWorkerLost(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	dir := t.TempDir()
	env := map[string]string{"M": dir}
	w.applyPool(t, "q", strings.Replace(poolYAML, "workers: 2", "workers: 1", 1), env)
	w.waitPool(t, "q", "READY with 1 worker", readyWorkers(1))
	id := w.poolLaunch(t, "q", 1, `run: |
  if [ -f $M/second ]; then echo second run; exit 0; fi
  touch $M/second
  echo $$ > $M/pid.tmp && mv $M/pid.tmp $M/pid
  sleep 600
`, env)[0]
	r := w.waitFor(t, id, 0, api.ManagedRunning)
	waitFile(t, filepath.Join(dir, "pid"))
	killed := time.Now()
	killNode(t, filepath.Join(w.home, "local", r.Cluster, "agent-0", "agent.pid"), filepath.Join(dir, "pid"))
	r = w.waitFor(t, id, 0, api.ManagedSucceeded)
	logRecovery(t, "kill of the pool worker's node", r, killed)
	if r.Recoveries != 1 || !strings.Contains(reasons(r), "RECOVERING:preempted") {
		t.Errorf("row %+v, events %s", r, reasons(r))
	}
	if out := w.logs(t, id); !strings.Contains(out, "second run") {
		t.Errorf("output %q", out)
	}
	w.waitPool(t, "q", "READY again with its worker idle", func(p api.Pool) bool { return readyWorkers(1)(p) && p.WorkerList[0].JobID == 0 })
	if n, setups := countSetups(dir); n != 2 {
		t.Errorf("setup ran %d times, want twice (the worker and its replacement): %q", n, setups)
	}
	if got := clusterNames(w.clusters(t)); !slices.Equal(got, []string{"q-1"}) {
		t.Errorf("clusters %v", got)
	}
}

// Bad input is refused with a clear error and changes nothing: a pool of 0 workers, a pool YAML with a run
// section or no pool section, --workers 0 or for a pool that does not exist, --pool of an unknown pool,
// --num-jobs without --pool, a pipeline submitted to a pool.
func TestPoolBadInput(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	c := w.ctl.Client()
	ctx := context.Background()
	apply := func(yaml string, workers *int, name string) error {
		req := api.PoolApplyRequest{Name: name, Workers: workers}
		if yaml != "" {
			req.Task = &api.TaskSpec{YAML: yaml, FileName: "pool.yaml"}
		}
		_, err := api.Wait(c.PoolApply(ctx, req))
		return err
	}
	zero := 0
	two := 2
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"zero workers", apply("pool:\n  workers: 0\nsetup: echo\n", nil, "z"), "pool.yaml:2:12: pool.workers: a pool needs at least 1 worker, got 0"},
		{"no workers key", apply("pool: {}\n", nil, "z"), "pool.yaml:1:1: pool: a pool needs its number of workers"},
		{"run in a pool", apply("pool:\n  workers: 1\nrun: echo\n", nil, "z"), "pool.yaml:3:1: run: a pool's task cannot have a run section"},
		{"no pool section", apply("setup: echo\n", nil, "z"), "has no pool: section"},
		{"bad name", apply("pool:\n  workers: 1\n", nil, "Bad_Name"), `invalid pool name "Bad_Name"`},
		{"--workers 0", apply("", &zero, "z"), "--workers must be at least 1, got 0"},
		{"resize unknown", apply("", &two, "nope"), `pool "nope" not found`},
		{"launch unknown pool", func() error {
			_, err := api.Wait(c.JobsLaunch(ctx, api.JobsLaunchRequest{Task: api.TaskSpec{Command: "echo"}, Options: api.JobsLaunchOptions{Pool: "nope"}}))
			return err
		}(), `pool "nope" not found`},
		{"num-jobs without pool", func() error {
			_, err := api.Wait(c.JobsLaunch(ctx, api.JobsLaunchRequest{Task: api.TaskSpec{Command: "echo"}, Options: api.JobsLaunchOptions{NumJobs: 3}}))
			return err
		}(), "--num-jobs needs --pool"},
		{"cancel -p unknown", func() error {
			_, err := api.Wait(c.JobsCancel(ctx, api.JobsCancelRequest{Pool: "nope"}))
			return err
		}(), `pool "nope" not found`},
		{"down unknown", func() error {
			_, err := api.Wait(c.PoolDown(ctx, api.PoolDownRequest{Names: []string{"nope"}}))
			return err
		}(), `pool "nope" not found`},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, tc.err, tc.want)
		}
	}
	var nf *api.PoolNotFoundError
	if _, err := c.PoolStatus(ctx, []string{"nope"}); !errors.As(err, &nf) || nf.Name != "nope" {
		t.Errorf("status of an unknown pool: %v", err)
	}
	// A pipeline cannot go to a pool (one that exists: the pool is made, its workers are not awaited).
	w.applyPool(t, "one", "pool:\n  workers: 1\n", nil)
	_, err := api.Wait(c.JobsLaunch(ctx, api.JobsLaunchRequest{Task: api.TaskSpec{YAML: "name: a\nrun: echo\n---\nname: b\nrun: echo\n", FileName: "p.yaml", Pipeline: true},
		Options: api.JobsLaunchOptions{Pool: "one"}}))
	if err == nil || !strings.Contains(err.Error(), "cannot be submitted to a pool") {
		t.Errorf("pipeline to a pool: %v", err)
	}
	if jobs, err := c.JobsQueue(ctx, api.JobsQueueOptions{}); err != nil || len(jobs) != 0 {
		t.Errorf("jobs recorded: %+v, %v", jobs, err)
	}
	if ps, err := c.PoolStatus(ctx, nil); err != nil || len(ps) != 1 {
		t.Errorf("pools: %+v, %v", ps, err)
	}
	// A worker whose setup fails is never READY: FAILED, with why, and tried again later.
	w.applyPool(t, "bad", "pool:\n  workers: 1\nsetup: echo broken; exit 3\n", nil)
	p := w.waitPool(t, "bad", "with its worker FAILED", func(p api.Pool) bool {
		return len(p.WorkerList) == 1 && p.WorkerList[0].Status == api.WorkerFailed
	})
	if p.Status != api.PoolReplicaInit || !strings.Contains(p.WorkerList[0].Message, "setup on bad-1 ended FAILED") {
		t.Errorf("pool with a failing setup: %+v", p)
	}
	var setup, ctl bytes.Buffer
	if err := c.PoolLogs(ctx, "bad", api.PoolLogsOptions{WorkerID: 1}, &setup); err != nil || !strings.Contains(setup.String(), "broken") {
		t.Errorf("worker 1's setup log %q, %v", setup.String(), err)
	}
	if err := c.PoolLogs(ctx, "bad", api.PoolLogsOptions{Controller: true}, &ctl); err != nil ||
		!strings.Contains(ctl.String(), "worker 1: launching cluster bad-1") || !strings.Contains(ctl.String(), "setup on bad-1 ended") {
		t.Errorf("controller log %q, %v", ctl.String(), err)
	}
	if err := c.PoolLogs(ctx, "bad", api.PoolLogsOptions{WorkerID: 9}, &ctl); err == nil || !strings.Contains(err.Error(), "has no worker 9") {
		t.Errorf("logs of an unknown worker: %v", err)
	}
	if err := c.PoolLogs(ctx, "nope", api.PoolLogsOptions{Controller: true}, &ctl); !errors.As(err, &nf) {
		t.Errorf("logs of an unknown pool: %v", err)
	}
}

// A controller that stops with a pool's job running leaves both as they are: the next one takes the pool over
// without relaunching its workers and re-attaches to the job on its worker, which succeeds with no recovery.
func TestPoolControllerRestart(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	dir := t.TempDir()
	env := map[string]string{"M": dir}
	w.applyPool(t, "r", poolYAML, env)
	w.waitPool(t, "r", "READY with 2 workers", readyWorkers(2))
	id := w.poolLaunch(t, "r", 1, "run: |\n  echo before\n  until [ -f $M/go ]; do sleep 0.05; done\n  echo after\n", env)[0]
	w.waitFor(t, id, 0, api.ManagedRunning)
	w.ctl.Close()
	w.start(t)
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r := w.waitFor(t, id, 0, api.ManagedSucceeded)
	if r.Recoveries != 0 || !strings.Contains(reasons(r), "RUNNING:reattached") {
		t.Errorf("re-attached job: %+v, events %s; controller log:\n%s", r, reasons(r), w.controllerLog(id))
	}
	if out := w.logs(t, id); !strings.Contains(out, "before") || !strings.Contains(out, "after") {
		t.Errorf("output %q", out)
	}
	w.waitPool(t, "r", "READY with its workers idle", func(p api.Pool) bool {
		return readyWorkers(2)(p) && p.WorkerList[0].JobID == 0 && p.WorkerList[1].JobID == 0
	})
	if n, setups := countSetups(dir); n != 2 {
		t.Errorf("setup ran %d times, want once per worker (the restart relaunched none): %q", n, setups)
	}
}

// submittedToRunning is how long job id took from submission to its first RUNNING.
func (w *world) submittedToRunning(t *testing.T, id int64) time.Duration {
	t.Helper()
	r := w.waitFor(t, id, 0, api.ManagedSucceeded)
	var submitted, running time.Time
	for _, e := range r.Events {
		if e.Status == api.ManagedPending && submitted.IsZero() {
			submitted = e.At
		}
		if e.Status == api.ManagedRunning && running.IsZero() {
			running = e.At
		}
	}
	return running.Sub(submitted)
}

// For BENCHMARKS.md: submitted → RUNNING of a job on an idle worker of a 1-worker pool against a managed job
// with its own cluster, in the same run, on local infra (go test -run TestPoolLaunchLatency -v ./internal/jobs/).
func TestPoolLaunchLatency(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.applyPool(t, "lat", "pool:\n  workers: 1\n", nil)
	w.waitPool(t, "lat", "READY", readyWorkers(1))
	const n = 5
	var pool, own []time.Duration
	for range n {
		pool = append(pool, w.submittedToRunning(t, w.poolLaunch(t, "lat", 1, "run: echo hi\n", nil)[0]))
		// The worker is free again before the next job, so that each one finds it idle.
		w.waitPool(t, "lat", "idle", func(p api.Pool) bool { return readyWorkers(1)(p) && p.WorkerList[0].JobID == 0 })
	}
	for range n {
		own = append(own, w.submittedToRunning(t, w.launch(t, "run: echo hi\n", nil)))
	}
	slices.Sort(pool)
	slices.Sort(own)
	t.Logf("submitted -> RUNNING, median of %d: on an idle pool worker %s (min %s, max %s); on a cluster of its own %s (min %s, max %s); ratio %.2f",
		n, pool[n/2].Round(time.Microsecond), pool[0].Round(time.Microsecond), pool[n-1].Round(time.Microsecond),
		own[n/2].Round(time.Microsecond), own[0].Round(time.Microsecond), own[n-1].Round(time.Microsecond),
		float64(pool[n/2])/float64(own[n/2]))
}

// `pool apply --workers N` resizes a pool (an extra worker torn down, a missing one launched), and a changed
// task is a new version whose workers replace the old ones (setup run again); the same task changes nothing.
func TestPoolResizeAndUpdate(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	dir := t.TempDir()
	env := map[string]string{"M": dir}
	w.applyPool(t, "s", poolYAML, env)
	w.waitPool(t, "s", "READY with 2 workers", readyWorkers(2))
	resize := func(n int) {
		t.Helper()
		if _, err := api.Wait(w.ctl.Client().PoolApply(context.Background(), api.PoolApplyRequest{Name: "s", Workers: &n})); err != nil {
			t.Fatal(err)
		}
	}
	resize(1)
	w.waitPool(t, "s", "down to 1 worker", readyWorkers(1))
	waitClusters(t, w, "s-1")
	resize(2)
	w.waitPool(t, "s", "back to 2 workers", readyWorkers(2))
	waitClusters(t, w, "s-1", "s-2")
	if n, setups := countSetups(dir); n != 3 {
		t.Errorf("setup ran %d times, want 3: %q", n, setups)
	}
	apply := func(yaml string) api.PoolApplyResult {
		t.Helper()
		res, err := api.Wait(w.ctl.Client().PoolApply(context.Background(), api.PoolApplyRequest{Name: "s",
			Task: &api.TaskSpec{YAML: yaml, FileName: "pool.yaml", Env: env}}))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := apply(poolYAML); res.Version != 1 || res.Created {
		t.Errorf("the same task again: %+v", res)
	}
	if res := apply(poolYAML + "# v2\n"); res.Version != 2 {
		t.Errorf("a new task: %+v", res)
	}
	w.waitPool(t, "s", "at version 2", func(p api.Pool) bool {
		return readyWorkers(2)(p) && p.Version == 2 && p.WorkerList[0].Version == 2 && p.WorkerList[1].Version == 2
	})
	if n, setups := countSetups(dir); n != 5 {
		t.Errorf("setup ran %d times, want 5 (each worker again): %q", n, setups)
	}
}

// waitClusters polls until the live clusters are names.
func waitClusters(t *testing.T, w *world, names ...string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if slices.Equal(clusterNames(w.clusters(t)), names) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("clusters %v, want %v", clusterNames(w.clusters(t)), names)
}
