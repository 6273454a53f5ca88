package kubernetes

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/kubeapi"
)

// The worker pod of a 2-node cluster deleted behind stix's back is told by WatchNodes, once, as its rank gone;
// the head is not.
func TestWatchNodesPodDeleted(t *testing.T) {
	p := newProvider(t)
	cpuNode(t, "watch")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	name := fmt.Sprintf("watch-%d", os.Getpid())
	req := cloud.Requirements{NumNodes: 2}
	info, err := p.Provision(ctx, cloud.ProvisionRequest{Cluster: cloud.ClusterRef{Name: name}, Offer: offer(t, ctx, p, req), Requirements: req})
	if err != nil {
		t.Fatal(err)
	}
	ref := cloud.ClusterRef{Name: name, Handle: info.Handle}
	t.Cleanup(func() { p.Terminate(context.Background(), ref) })
	wctx, stop := context.WithCancel(ctx)
	evs, err := p.WatchNodes(wctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	worker := p.podName(name, 1)
	if err := plane.Client.Do(ctx, http.MethodDelete, kubeapi.Query(kubeapi.NSPath("default", "pods", worker), "gracePeriodSeconds", "0"), nil, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case ev, ok := <-evs:
		if !ok || ev.Rank != 1 || ev.Status != cloud.NodeMissing || ev.At.IsZero() {
			t.Fatalf("event %+v (open %v), want rank 1 missing", ev, ok)
		}
		t.Logf("told: %s", ev.Reason)
	case <-ctx.Done():
		t.Fatal("no event for the deleted pod")
	}
	stop()
	for ev := range evs {
		if ev.Rank == 1 {
			t.Errorf("rank 1 told twice: %+v", ev)
		}
	}
	// A watch that begins after the loss tells it at once.
	evs, err = p.WatchNodes(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-evs; ev.Rank != 1 || ev.Status != cloud.NodeMissing {
		t.Errorf("a new watch's first event %+v, want rank 1 missing", ev)
	}
}
