package jobs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/providers"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/embedded"
	"github.com/stix-run/stix/internal/store"
	"github.com/stix-run/stix/internal/testutil"
	"github.com/stix-run/stix/internal/testutil/fakecloud"
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
	return coreEnv(home, db, nil, built, clouds...)
}

// coreEnv is core whose caller's environment (object storage credentials and endpoints) is getenv, os.Getenv
// when nil.
func coreEnv(home, db string, getenv func(string) string, built []*fakecloud.Provider, clouds ...fakecloud.Options) (*embedded.Client, error) {
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
	return embedded.New(embedded.Options{Getenv: getenv, Core: cluster.Options{Home: home, Registry: reg, User: "tester", DB: db, DBOrigin: "the test",
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
	return newWorldEnv(t, home, db, dir, nil, clouds...)
}

// newWorldEnv is newWorldDB whose core reads the environment through getenv (os.Getenv when nil).
func newWorldEnv(t *testing.T, home, db, dir string, getenv func(string) string, clouds ...fakecloud.Options) *world {
	t.Helper()
	catalogOnce.Do(func() { catalogDir = testutil.SharedDir(t, "catalogs/v7") })
	built := make([]*fakecloud.Provider, len(clouds))
	core, err := coreEnv(home, db, getenv, built, clouds...)
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
	rows, err := w.ctl.Client().JobsQueue(context.Background(), api.JobsQueueOptions{IDs: []int64{id}, Events: true})
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
