package cluster

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/providers"
	"github.com/stix-run/stix/internal/provision"
	"github.com/stix-run/stix/internal/spec"
	"github.com/stix-run/stix/internal/store"
	"github.com/stix-run/stix/internal/testutil"
	"github.com/stix-run/stix/internal/testutil/fakecloud"
)

// The Manager's table tests: real stores in temporary homes, scripted fake clouds (internal/testutil/fakecloud)
// whose nodes are real agents on this machine, so that jobs run. Nothing waits on a clock: a job's end is
// awaited by following its logs, which return when it finishes.

func TestMain(m *testing.M) { os.Exit(testutil.RunWithAgent(m)) }

// world is a Manager over fake clouds.
type world struct {
	m     *Manager
	fakes map[string]*fakecloud.Provider
}

// newWorld builds a Manager whose registry holds the given fake clouds, each enabled unless Disabled. Its
// cleanup tears every cluster down, so that no agent outlives the test.
func newWorld(t *testing.T, clouds ...fakecloud.Options) *world {
	t.Helper()
	home := t.TempDir()
	built := make([]*fakecloud.Provider, len(clouds))
	var ds []cloud.Descriptor
	var enabled []string
	for i, o := range clouds {
		ds = append(ds, fakecloud.Descriptor(o, &built[i]))
		if !o.Disabled {
			enabled = append(enabled, o.Name)
		}
	}
	reg, err := providers.Build(providers.Config{Home: home}, ds...)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Options{Home: home, Registry: reg, User: "tester",
		EnabledInfra: func(context.Context) ([]string, error) { return enabled, nil }})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{m: m, fakes: map[string]*fakecloud.Provider{}}
	for i, o := range clouds {
		w.fakes[o.Name] = built[i]
	}
	t.Cleanup(func() {
		ctx := context.Background()
		cs, err := m.Status(ctx, nil, false)
		if err != nil {
			t.Errorf("cleanup: %v", err)
		}
		for _, c := range cs {
			if err := m.Down(ctx, c.Name, true); err != nil {
				t.Errorf("cleanup: down %s: %v", c.Name, err)
			}
		}
		m.Close()
	})
	return w
}

// task parses a task YAML.
func task(t *testing.T, yaml string) *spec.Task {
	t.Helper()
	p, err := spec.Load("task.yaml", []byte(yaml), spec.LoadOptions{})
	if err != nil {
		t.Fatalf("task %q: %v", yaml, err)
	}
	return p.Tasks[0]
}

// cluster returns the one recorded cluster called name, or fails.
func (w *world) cluster(t *testing.T, name string) api.Cluster {
	t.Helper()
	cs, err := w.m.Status(context.Background(), []string{name}, false)
	if err != nil || len(cs) != 1 {
		t.Fatalf("status %s = %+v, %v; want one cluster", name, cs, err)
	}
	return cs[0]
}

// finish follows a job's logs until it ends and returns its status and output.
func (w *world) finish(t *testing.T, name string, id int) (api.JobStatus, string) {
	t.Helper()
	var out bytes.Buffer
	j, err := w.m.Logs(context.Background(), name, id, api.LogsOptions{Follow: true}, &out)
	if err != nil {
		t.Fatalf("logs of job %d on %s: %v", id, name, err)
	}
	return j.Status, out.String()
}

// places writes attempts as region/zone, a failed one marked with "!".
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

// TestFailover: a launch fails over by the typed error of each attempt — a zone out of capacity to the next
// zone, a region out of quota to the next region, a cloud refusing the credentials to the next cloud — and stops
// at an error that is not the infrastructure's. Each fake's capacity is measured once per launch, however many
// times the loop re-plans.
func TestFailover(t *testing.T) {
	t.Parallel()
	zones := []fakecloud.Place{{Region: "r1", Zone: "r1a", Price: 1}, {Region: "r1", Zone: "r1b", Price: 2}, {Region: "r2", Zone: "r2a", Price: 3}}
	other := fakecloud.Options{Name: "fake-b", Places: []fakecloud.Place{{Region: "b1", Zone: "b1a", Price: 10}}}
	tests := []struct {
		name   string
		script []fakecloud.Rule
		want   map[string][]string // attempts per cloud
		landed string              // cloud/region/zone; "" when the launch fails
		errHas string
	}{
		{name: "first choice", want: map[string][]string{"fake-a": {"r1/r1a"}}, landed: "fake-a/r1/r1a"},
		{name: "no capacity in a zone", script: []fakecloud.Rule{{Zone: "r1a", Fault: fakecloud.Capacity}},
			want: map[string][]string{"fake-a": {"r1/r1a!", "r1/r1b"}}, landed: "fake-a/r1/r1b"},
		{name: "no quota in a region", script: []fakecloud.Rule{{Region: "r1", Fault: fakecloud.Quota}},
			want: map[string][]string{"fake-a": {"r1/r1a!", "r2/r2a"}}, landed: "fake-a/r2/r2a"},
		{name: "credentials refused", script: []fakecloud.Rule{{Fault: fakecloud.Auth}},
			want: map[string][]string{"fake-a": {"r1/r1a!"}, "fake-b": {"b1/b1a"}}, landed: "fake-b/b1/b1a"},
		{name: "a zone fails once only", script: []fakecloud.Rule{{Zone: "r1a", Attempt: 1, Fault: fakecloud.Capacity}, {Zone: "r1b", Fault: fakecloud.Quota}},
			want: map[string][]string{"fake-a": {"r1/r1a!", "r1/r1b!", "r2/r2a"}}, landed: "fake-a/r2/r2a"},
		{name: "not the infrastructure's error", script: []fakecloud.Rule{{Zone: "r1a", Fault: fakecloud.Broken}},
			want: map[string][]string{"fake-a": {"r1/r1a!"}}, errHas: "scripted: r1/r1a is broken"},
		{name: "nothing left", script: []fakecloud.Rule{{Fault: fakecloud.Capacity}},
			want:   map[string][]string{"fake-a": {"r1/r1a!", "r1/r1b!", "r2/r2a!"}, "fake-b": {"b1/b1a"}},
			landed: "fake-b/b1/b1a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, fakecloud.Options{Name: "fake-a", Places: zones, Script: tc.script}, other)
			res, err := w.m.Launch(context.Background(), task(t, "run: echo hi\n"), api.LaunchOptions{ClusterName: "c"})
			for name, f := range w.fakes {
				if got, want := places(f.Attempts()), tc.want[name]; strings.Join(got, " ") != strings.Join(want, " ") {
					t.Errorf("%s attempts = %v, want %v", name, got, want)
				}
				if n := f.Snapshots(); n != 1 {
					t.Errorf("%s capacity measured %d times, want once", name, n)
				}
			}
			if tc.landed == "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("launch: err = %v, want one saying %q", err, tc.errHas)
				}
				if cs, _ := w.m.Status(context.Background(), nil, false); len(cs) != 0 {
					t.Errorf("a failed launch left %+v", cs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := w.cluster(t, "c")
			if got := c.Cloud + "/" + c.Region + "/" + c.Zone; got != tc.landed || c.Status != api.ClusterStatus(store.StatusUp) {
				t.Errorf("cluster on %s, %s; want %s, UP", got, c.Status, tc.landed)
			}
			if status, out := w.finish(t, "c", res.JobID); status != api.JobStatus("SUCCEEDED") || !strings.Contains(out, "hi") {
				t.Errorf("job %d: %s, output %q", res.JobID, status, out)
			}
		})
	}
}

// TestAvoidInfra: a launch told to avoid places (a managed job's recovery avoiding the region it lost) plans
// around them from the start, and fails with nothing tried when they are all there is.
func TestAvoidInfra(t *testing.T) {
	t.Parallel()
	zones := []fakecloud.Place{{Region: "r1", Zone: "r1a", Price: 1}, {Region: "r2", Zone: "r2a", Price: 3}}
	w := newWorld(t, fakecloud.Options{Name: "fake-a", Places: zones})
	ctx := context.Background()
	if _, err := w.m.Launch(ctx, task(t, "run: echo hi\n"), api.LaunchOptions{ClusterName: "c", AvoidInfra: []string{"fake-a/r1"}}); err != nil {
		t.Fatal(err)
	}
	if c := w.cluster(t, "c"); c.Region != "r2" {
		t.Errorf("landed in %s, want r2 (r1 avoided)", c.Region)
	}
	if got := places(w.fakes["fake-a"].Attempts()); strings.Join(got, " ") != "r2/r2a" {
		t.Errorf("attempts %v, want r2/r2a only", got)
	}
	_, err := w.m.Launch(ctx, task(t, "run: echo hi\n"), api.LaunchOptions{ClusterName: "d", AvoidInfra: []string{"FAKE-A"}})
	var pe *provision.Error
	if !errors.As(err, &pe) || len(pe.Attempts) != 0 {
		t.Errorf("launch avoiding the only cloud: %v; want a provision.Error with nothing tried", err)
	}
}

// TestLifecycle walks one cluster through the Manager's operations, each step a row: launch, reuse, exec that
// fits and exec that does not, autostop, stop, start and down.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	w := newWorld(t, fakecloud.Options{Name: "fake", CPUs: 2, MemoryGB: 2})
	ctx := context.Background()
	var lastJob int
	steps := []struct {
		name string
		do   func() error
		// status is the cluster's afterwards ("" when it is gone); errHas, when set, is what the step's error says.
		status store.ClusterStatus
		errHas string
		check  func(t *testing.T)
	}{
		{name: "launch", status: store.StatusUp, do: func() error {
			res, err := w.m.Launch(ctx, task(t, "run: echo launched\n"), api.LaunchOptions{ClusterName: "c"})
			if err == nil && !res.Provisioned {
				t.Error("a first launch did not provision")
			}
			lastJob = res.JobID
			return err
		}, check: func(t *testing.T) {
			if s, out := w.finish(t, "c", lastJob); s != "SUCCEEDED" || !strings.Contains(out, "launched") {
				t.Errorf("job: %s %q", s, out)
			}
		}},
		{name: "launch again reuses", status: store.StatusUp, do: func() error {
			res, err := w.m.Launch(ctx, task(t, "run: echo reused\n"), api.LaunchOptions{ClusterName: "c"})
			if err == nil && res.Provisioned {
				t.Error("a launch onto an UP cluster provisioned again")
			}
			lastJob = res.JobID
			return err
		}, check: func(t *testing.T) {
			if n := len(w.fakes["fake"].Attempts()); n != 1 {
				t.Errorf("%d provisioning attempts, want the first launch's only", n)
			}
		}},
		{name: "exec that fits", status: store.StatusUp, do: func() error {
			res, err := w.m.Exec(ctx, "c", task(t, "resources: {cpus: 1}\nrun: echo exec\n"), api.ExecOptions{})
			lastJob = res.JobID
			return err
		}, check: func(t *testing.T) {
			if s, out := w.finish(t, "c", lastJob); s != "SUCCEEDED" || !strings.Contains(out, "exec") {
				t.Errorf("job: %s %q", s, out)
			}
		}},
		{name: "exec that does not fit", status: store.StatusUp, errHas: "cannot run the task on cluster \"c\"", do: func() error {
			_, err := w.m.Exec(ctx, "c", task(t, "resources: {cpus: 512}\nrun: echo never\n"), api.ExecOptions{})
			return err
		}},
		{name: "autostop", status: store.StatusUp, do: func() error {
			return w.m.Autostop(ctx, "c", api.AutostopOptions{IdleMinutes: 30, Down: true})
		}, check: func(t *testing.T) {
			if c := w.cluster(t, "c"); c.AutostopMins != 30 || !c.ToDown {
				t.Errorf("autostop = %d min, down %v; want 30, true", c.AutostopMins, c.ToDown)
			}
		}},
		{name: "stop", status: store.StatusStopped, do: func() error { return w.m.Stop(ctx, "c") }},
		{name: "exec on a stopped cluster", status: store.StatusStopped, errHas: "is STOPPED", do: func() error {
			_, err := w.m.Exec(ctx, "c", task(t, "run: echo never\n"), api.ExecOptions{})
			return err
		}},
		{name: "start", status: store.StatusUp, do: func() error { return w.m.Start(ctx, "c", nil) }},
		{name: "down", do: func() error { return w.m.Down(ctx, "c", false) }},
	}
	for _, s := range steps {
		err := s.do()
		switch {
		case s.errHas == "" && err != nil:
			t.Fatalf("%s: %v", s.name, err)
		case s.errHas != "" && (err == nil || !strings.Contains(err.Error(), s.errHas)):
			t.Fatalf("%s: err = %v, want one saying %q", s.name, err, s.errHas)
		}
		cs, err := w.m.Status(ctx, []string{"c"}, true)
		if err != nil {
			t.Fatal(err)
		}
		got := store.ClusterStatus("")
		if len(cs) == 1 {
			got = store.ClusterStatus(cs[0].Status)
		}
		if got != s.status {
			t.Fatalf("%s: cluster %q after refresh, want %q", s.name, got, s.status)
		}
		if s.check != nil {
			s.check(t)
		}
	}
}

// TestCapabilities: the Manager asks a provider for a capability, not for its name: a cloud without Stopper
// cannot stop (the cluster stays UP), and a spot cluster taken back is forgotten by `status -r`.
func TestCapabilities(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, fakecloud.Options{Name: "nostop", NoStop: true})
	if _, err := w.m.Launch(ctx, task(t, "name: keep\n"), api.LaunchOptions{ClusterName: "keep"}); err != nil {
		t.Fatal(err)
	}
	var unsupported *cloud.UnsupportedError
	if err := w.m.Stop(ctx, "keep"); !errors.As(err, &unsupported) || !strings.Contains(err.Error(), "stix down keep") {
		t.Errorf("stop on a cloud that cannot: %v; want an UnsupportedError saying to use down", err)
	}
	if c := w.cluster(t, "keep"); c.Status != api.ClusterStatus(store.StatusUp) {
		t.Errorf("after a refused stop the cluster is %s", c.Status)
	}

	// The fake cloud names in tasks are no SkyPilot clouds, so the spot task names none: it lands on the only one.
	w = newWorld(t, fakecloud.Options{Name: "spot"})
	if _, err := w.m.Launch(ctx, task(t, "resources: {use_spot: true}\n"), api.LaunchOptions{ClusterName: "sp"}); err != nil {
		t.Fatal(err)
	}
	if c := w.cluster(t, "sp"); !strings.Contains(c.Resources, "spot") {
		t.Errorf("spot cluster resources %q", c.Resources)
	}
	if err := w.fakes["spot"].Preempt(ctx, cloud.ClusterRef{Name: "sp"}); err != nil {
		t.Fatal(err)
	}
	cs, err := w.m.Status(ctx, []string{"sp"}, true)
	if err != nil || len(cs) != 0 {
		t.Errorf("status -r after preemption = %+v, %v; want the cluster forgotten", cs, err)
	}
}
