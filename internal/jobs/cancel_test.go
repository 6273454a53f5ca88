package jobs

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/embedded"
	"github.com/stix-run/stix/internal/testutil/coretest"
	"github.com/stix-run/stix/internal/testutil/fakecloud"
)

// gatedCore is the real core, except that its first Launch waits until the launch's context ends before it
// goes through: a cancel arrives while the core has not opened its state yet.
type gatedCore struct {
	*embedded.Client
	held chan struct{}
	once sync.Once
}

func (g *gatedCore) Launch(ctx context.Context, req api.LaunchRequest) (*api.Operation[api.LaunchResult], error) {
	first := false
	g.once.Do(func() { first = true })
	if first {
		close(g.held)
		<-ctx.Done()
	}
	return g.Client.Launch(ctx, req)
}

// TestCancelWhileCoreOpens: a job cancelled while STARTING, its launch reaching a core that has not opened its
// state until the launch was cancelled, ends CANCELLED; its teardown and the next job still reach the core,
// which does not keep the cancelled open's error (issue 12's pattern, in the jobs controller).
func TestCancelWhileCoreOpens(t *testing.T) {
	t.Parallel()
	w := newWorld(t, twoRegions)
	w.ctl.Close()
	// A core over the same state that has not opened it yet (the world's opened it).
	fresh, err := core(w.home, "", make([]*fakecloud.Provider, 1), twoRegions)
	if err != nil {
		t.Fatal(err)
	}
	gate := &gatedCore{Client: fresh, held: make(chan struct{})}
	w.opts.Core = gate
	w.start(t)
	t.Cleanup(func() {
		w.ctl.Close()
		fresh.Close()
	})
	id := w.launch(t, "name: gated\nrun: echo never\n", nil)
	select {
	case <-gate.held:
	case <-time.After(time.Minute):
		t.Fatal("the job's launch never reached the core")
	}
	w.waitFor(t, id, 0, api.ManagedStarting)
	out, err := api.Wait(w.ctl.Client().JobsCancel(context.Background(), api.JobsCancelRequest{IDs: []int64{id}}))
	if err != nil || len(out) != 1 || out[0].Status != api.ManagedCancelling {
		t.Fatalf("cancel %d: %+v, %v", id, out, err)
	}
	w.waitFor(t, id, 0, api.ManagedCancelled)
	if log := w.controllerLog(id); strings.Contains(log, "tear down") {
		t.Errorf("the teardown after the cancel failed:\n%s", log)
	}
	next := w.launch(t, "name: next\nrun: echo done\n", nil)
	w.waitFor(t, next, 0, api.ManagedSucceeded)
	if cs := w.clusters(t); len(cs) != 0 {
		t.Errorf("clusters left: %+v", cs)
	}
}

// TestTeardownOutlastingCallTimeout: a job cluster whose teardown takes longer than one ordinary call to the core
// (CallTimeout; terminating cloud instances takes minutes) is still torn down when the job ends: nothing is left
// behind to run up a bill. The teardown once ran on CallTimeout, and its purge retry on the same expired context.
func TestTeardownOutlastingCallTimeout(t *testing.T) {
	t.Parallel()
	w := newWorld(t, twoRegions)
	w.ctl.Close()
	w.opts.Core = &coretest.SlowDown{Client: w.core, Hold: 3 * time.Second}
	w.opts.CallTimeout = 2 * time.Second
	w.start(t)
	id := w.launch(t, "name: slowdown\nrun: echo done\n", nil)
	w.waitFor(t, id, 0, api.ManagedSucceeded)
	w.ctl.Close() // waits for the runner, teardown included
	if log := w.controllerLog(id); strings.Contains(log, "tear down") {
		t.Errorf("the teardown failed:\n%s", log)
	}
	if cs := w.clusters(t); len(cs) != 0 {
		t.Errorf("clusters left: %+v", cs)
	}
}
