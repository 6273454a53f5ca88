package services

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
)

// TestReplicaDownThroughAnotherServer: `serve down NAME --replica-id N` asked of an API server that does not run
// the service (two servers over one database) reaches the controller that does: the replica is torn down and
// replaced, and the asking server's operation ends when it is gone. It was refused ("not run by this API
// server's controller").
func TestReplicaDownThroughAnotherServer(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.ctl.Close()
	w.opts.LeaseTTL = 900 * time.Millisecond // renewed, and asked what others recorded, every 300 ms
	w.start(t)
	if _, err := api.Wait(w.ctl.ServeUp(ctx, api.ServeUpRequest{Task: api.TaskSpec{FileName: "web.yaml", YAML: webService(t.TempDir(), 1)}})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, w, "web", "READY", func(s api.Service) bool { return len(readyReplicas(s)) == 1 })
	other := w.opts
	other.Dir = filepath.Join(w.home, "server2")
	ctl2, err := New(other)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl2.Close() // never started: it holds no service
	if ctl2.runnerOf("web") != nil {
		t.Fatal("the second server runs the service")
	}
	if _, err := ctl2.ServeDown(ctx, api.ServeDownRequest{Names: []string{"web"}, ReplicaID: 7}); err == nil {
		t.Error("--replica-id 7 of a service with no replica 7: no error")
	}
	out, err := api.Wait(ctl2.ServeDown(ctx, api.ServeDownRequest{Names: []string{"web"}, ReplicaID: 1}))
	if err != nil || len(out) != 1 || out[0].Message != "replica 1 terminated" {
		t.Fatalf("serve down --replica-id 1 through the other server: %+v, %v", out, err)
	}
	if cs, _ := w.core.Status(ctx, []string{ReplicaCluster("web", 1)}, false); len(cs) != 0 {
		t.Fatalf("replica 1's cluster after --replica-id: %+v", cs)
	}
	waitFor(t, w, "web", "replica 1 replaced by 2", func(s api.Service) bool {
		ready := readyReplicas(s)
		return len(s.Replicas) == 1 && len(ready) == 1 && ready[0] == 2
	})
}
