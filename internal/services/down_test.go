package services

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cloud/providers"
	"github.com/stix-run/stix/internal/embedded"
	"github.com/stix-run/stix/internal/testutil/coretest"
	"github.com/stix-run/stix/internal/testutil/fakecloud"
)

// heldWorld is a world whose only infra is a fake cloud (its nodes real stix-agent processes on this machine)
// that holds every provisioning attempt until the launch's context ends; held receives each held cluster's
// name.
func heldWorld(t *testing.T) (*world, <-chan string) {
	t.Helper()
	held := make(chan string, 16)
	o := fakecloud.Options{Name: "fk", Hold: func(ctx context.Context, cluster string, _ int) error {
		held <- cluster
		<-ctx.Done()
		return ctx.Err()
	}}
	var built *fakecloud.Provider
	home := t.TempDir()
	reg, err := providers.Build(providers.Config{Home: home}, fakecloud.Descriptor(o, &built))
	if err != nil {
		t.Fatal(err)
	}
	return newWorldOn(t, home, reg, []string{o.Name}), held
}

// TestDownWhileLaunching: `serve down` while the only replica is still launching (PROVISIONING, its launch held
// in flight) cancels the launch, then tears its cluster down with a context of its own: the service is gone and
// no cluster is left (issue 12: it once ended FAILED_CLEANUP with "open stix state: … context canceled").
func TestDownWhileLaunching(t *testing.T) {
	w, held := heldWorld(t)
	ctx := context.Background()
	yaml := "name: slow\nservice:\n  readiness_probe: /\n  replicas: 1\nresources:\n  ports: 8080\nrun: sleep 600\n"
	if _, err := api.Wait(w.ctl.ServeUp(ctx, api.ServeUpRequest{Task: api.TaskSpec{FileName: "slow.yaml", YAML: yaml}})); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-held:
		if c != ReplicaCluster("slow", 1) {
			t.Fatalf("held the launch of %s, want slow-1", c)
		}
	case <-time.After(3 * time.Minute):
		log, _ := os.ReadFile(w.ctl.logPath("slow"))
		ss, err := w.ctl.ServeStatus(ctx, nil)
		t.Fatalf("the replica's launch never reached provisioning; services %+v, %v\ncontroller log:\n%s", ss, err, log)
	}
	s := waitFor(t, w, "slow", "with its replica PROVISIONING", func(s api.Service) bool {
		return len(s.Replicas) == 1 && s.Replicas[0].Status == "PROVISIONING"
	})
	if s.Status == api.ServiceReady {
		t.Fatalf("service %+v is READY while its replica launches", s)
	}
	out, err := api.Wait(w.ctl.ServeDown(ctx, api.ServeDownRequest{Names: []string{"slow"}}))
	if err != nil || len(out) != 1 || out[0].Message != "terminated" {
		log, _ := os.ReadFile(w.ctl.logPath("slow"))
		ss, _ := w.ctl.ServeStatus(ctx, nil)
		t.Fatalf("serve down: %+v, %v; services %+v\ncontroller log:\n%s", out, err, ss, log)
	}
	if ss, err := w.ctl.ServeStatus(ctx, nil); err != nil || len(ss) != 0 {
		t.Fatalf("services after down: %+v, %v", ss, err)
	}
	if cs, err := w.core.Status(ctx, nil, false); err != nil || len(cs) != 0 {
		t.Fatalf("clusters after down: %+v, %v", cs, err)
	}
}

// gatedCore is the real core, except that the first call of the launch of cluster (the look for a cluster
// already up) waits until the launch is cancelled before it goes through: `serve down` arrives while the core
// is still opening its state for the launch.
type gatedCore struct {
	*embedded.Client
	cluster string
	held    chan struct{}
	once    sync.Once
}

func (g *gatedCore) Status(ctx context.Context, names []string, refresh bool) ([]api.Cluster, error) {
	if refresh && len(names) == 1 && names[0] == g.cluster {
		first := false
		g.once.Do(func() { first = true })
		if first {
			close(g.held)
			<-ctx.Done()
		}
	}
	return g.Client.Status(ctx, names, refresh)
}

// TestDownWhileCoreOpens: `serve down` cancels a replica's launch whose first call reaches the core, which has not
// opened its state yet, only once cancelled: the launch fails, and the teardown (with a context of its own)
// still reaches the core, which must not keep the cancelled open's error; the service is gone and no cluster is
// left (issue 12: FAILED_CLEANUP with "open stix state: … context canceled").
func TestDownWhileCoreOpens(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.ctl.Close()
	gate := &gatedCore{Client: w.core, cluster: ReplicaCluster("web", 1), held: make(chan struct{})}
	w.opts.Core = gate
	w.start(t)
	if _, err := api.Wait(w.ctl.ServeUp(ctx, api.ServeUpRequest{Task: api.TaskSpec{FileName: "web.yaml", YAML: webService(t.TempDir(), 1)}})); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gate.held:
	case <-time.After(3 * time.Minute):
		t.Fatal("the replica's launch never reached the core")
	}
	waitFor(t, w, "web", "with its replica PROVISIONING", func(s api.Service) bool {
		return len(s.Replicas) == 1 && s.Replicas[0].Status == "PROVISIONING"
	})
	out, err := api.Wait(w.ctl.ServeDown(ctx, api.ServeDownRequest{Names: []string{"web"}}))
	if err != nil || len(out) != 1 || out[0].Message != "terminated" {
		log, _ := os.ReadFile(w.ctl.logPath("web"))
		ss, _ := w.ctl.ServeStatus(ctx, nil)
		t.Fatalf("serve down: %+v, %v; services %+v\ncontroller log:\n%s", out, err, ss, log)
	}
	if ss, err := w.ctl.ServeStatus(ctx, nil); err != nil || len(ss) != 0 {
		t.Fatalf("services after down: %+v, %v", ss, err)
	}
	if cs, err := w.core.Status(ctx, nil, false); err != nil || len(cs) != 0 {
		t.Fatalf("clusters after down: %+v, %v", cs, err)
	}
}

// TestDownOutlastingCallTimeout: a replica teardown that takes longer than one ordinary call to the core (its
// bound, CallTimeout) still completes: the service is gone and no cluster is left, not FAILED_CLEANUP (issue 12:
// `serve down` of four local replicas on a loaded machine ended FAILED_CLEANUP on the 30 s call timeout).
func TestDownOutlastingCallTimeout(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.ctl.Close()
	w.opts.Core = &coretest.SlowDown{Client: w.core, Cluster: ReplicaCluster("web", 1), Hold: 3 * time.Second}
	w.opts.CallTimeout = 2 * time.Second
	w.start(t)
	if _, err := api.Wait(w.ctl.ServeUp(ctx, api.ServeUpRequest{Task: api.TaskSpec{FileName: "web.yaml", YAML: webService(t.TempDir(), 1)}})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, w, "web", "READY", func(s api.Service) bool { return len(readyReplicas(s)) == 1 })
	out, err := api.Wait(w.ctl.ServeDown(ctx, api.ServeDownRequest{Names: []string{"web"}}))
	if err != nil || len(out) != 1 || out[0].Message != "terminated" {
		log, _ := os.ReadFile(w.ctl.logPath("web"))
		ss, _ := w.ctl.ServeStatus(ctx, nil)
		t.Fatalf("serve down: %+v, %v; services %+v\ncontroller log:\n%s", out, err, ss, log)
	}
	if cs, err := w.core.Status(ctx, nil, false); err != nil || len(cs) != 0 {
		t.Fatalf("clusters after down: %+v, %v", cs, err)
	}
}
