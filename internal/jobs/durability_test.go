package jobs

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/store"
	"github.com/stix-run/stix/internal/testutil/fakecloud"
	"github.com/stix-run/stix/internal/testutil/pgtest"
)

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
	// Whatever way the test ends, the clusters the killed controller launched are torn down once it is dead
	// (this cleanup runs after the one that kills it): their agents outlive it, and on a failure before the
	// next controller took them over, nothing else would end them. A job also ends when the marks are gone.
	t.Cleanup(func() { downAll(t, home, db) })
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childHomeEnv+"="+home, "STIX_JOBS_CHILD_N="+strconv.Itoa(n), "STIX_JOBS_CHILD_M="+marks,
		"STIX_JOBS_CHILD_DB="+db, "STIX_JOBS_CHILD_DIR="+dir, "STIX_JOBS_CHILD_TTL="+ttl.String(),
		"STIX_JOBS_CHILD_YAML=name: k\nenvs:\n  M: x\nrun: |\n  echo \"start $SKYPILOT_MANAGED_JOB_ID\"\n  until [ -f $M/go ] || [ ! -d $M ]; do sleep 0.2; done\n  echo \"end $SKYPILOT_MANAGED_JOB_ID\"\n")
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
		rows, err := js.Queue(context.Background(), Filter{Events: true}, time.Now())
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
		for w.ctl.runners.Scans() < 3 {
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

// downAll tears down every cluster recorded in home's store.
func downAll(t *testing.T, home, db string) {
	c, err := core(home, db, make([]*fakecloud.Provider, 1), twoRegions)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	defer c.Close()
	ctx := context.Background()
	cs, err := c.Status(ctx, nil, false)
	if err != nil {
		t.Errorf("cleanup: status: %v", err)
	}
	for _, cl := range cs {
		if _, err := api.Wait(c.Down(ctx, cl.Name, true)); err != nil {
			t.Errorf("cleanup: down %s: %v", cl.Name, err)
		}
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

// A controller that stops while a task is RECOVERING (its relaunch held in flight): the next controller
// finishes the recovery, counted once.
func TestRestartWhileRecovering(t *testing.T) {
	t.Parallel()
	var holding atomic.Bool
	o := twoRegions
	o.Hold = func(ctx context.Context, name string, attempt int) error {
		if attempt > 1 && holding.Load() {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}
	w := newWorld(t, o)
	dir := t.TempDir()
	id := w.launch(t, "name: rr\nenvs:\n  M: x\nrun: |\n  if [ -f $M/once ]; then echo second; exit 0; fi\n  touch $M/once; sleep 600\n", map[string]string{"M": dir})
	r := w.waitFor(t, id, 0, api.ManagedRunning)
	waitFile(t, filepath.Join(dir, "once"))
	holding.Store(true)
	if err := w.fakes["fk"].Preempt(context.Background(), cloud.ClusterRef{Name: r.Cluster}); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, id, 0, api.ManagedRecovering)
	w.ctl.Close()
	holding.Store(false)
	w.start(t)
	r = w.waitFor(t, id, 0, api.ManagedSucceeded)
	if r.Recoveries != 1 || !strings.Contains(reasons(r), "RECOVERING:preempted") {
		t.Errorf("row %+v, events %s\n%s", r, reasons(r), w.controllerLog(id))
	}
}
