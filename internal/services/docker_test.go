package services

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cloud/docker"
	"github.com/stix-run/stix/internal/testutil/dockertest"
)

// TestDockerReplicas: replicas on Docker infra are reached at their container's address; a replica's container
// killed (`docker kill`) is PREEMPTED, torn down and replaced; down removes every container.
func TestDockerReplicas(t *testing.T) {
	cli := dockertest.Client(t)
	dockertest.NodeImage(t, cli)
	w := newWorld(t)
	ctx := context.Background()
	work := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(work, "replica"), "./testdata/replica")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the replica server: %v: %s", err, out)
	}
	yaml := fmt.Sprintf(`name: dks
service:
  readiness_probe: /id
  replicas: 1
resources:
  infra: docker
  ports: 8080
workdir: %s
run: ./replica
`, work)
	res, err := api.Wait(w.ctl.ServeUp(ctx, api.ServeUpRequest{Task: api.TaskSpec{FileName: "dks.yaml", YAML: yaml}}))
	if err != nil {
		t.Fatal(err)
	}
	s := waitFor(t, w, "dks", "READY", func(s api.Service) bool { return len(readyReplicas(s)) == 1 })
	// The load balancer reaches the replica where `status --endpoint` says its port is: the port Docker published.
	eps, err := w.core.Endpoints(ctx, s.Replicas[0].Cluster, 8080)
	if err != nil || s.Replicas[0].Endpoint != "http://"+eps[8080] || s.Replicas[0].Infra != "Docker" {
		t.Fatalf("replica %+v; endpoints %v, %v: want the cluster's endpoint of port 8080", s.Replicas[0], eps, err)
	}
	if id := get(t, res.Endpoint); id != 1 {
		t.Fatalf("answered by replica %d", id)
	}
	container := fmt.Sprintf("stix-%s-%s-0", docker.Namespace(w.home), ReplicaCluster("dks", 1))
	killed := time.Now()
	if out, err := exec.Command("docker", "kill", container).CombinedOutput(); err != nil {
		t.Fatalf("docker kill %s: %v: %s", container, err, out)
	}
	dead := time.Now() // the container is dead when docker kill returns
	// The load balancer stops routing to it: with its one replica gone it answers 503 at once.
	lbGone := pollLB(t, res.Endpoint, http.StatusServiceUnavailable)
	s = waitFor(t, w, "dks", "replica 1 PREEMPTED", func(s api.Service) bool {
		return len(s.Replicas) == 0 || s.Replicas[0].ID != 1 || s.Replicas[0].Status != "READY"
	})
	known := time.Now()
	t.Logf("docker kill of the replica (the command took %v) -> the load balancer answers 503 %v, -> the controller shows it not READY %v (polled every 10 ms / 50 ms)",
		dead.Sub(killed).Round(time.Millisecond), lbGone.Sub(killed).Round(time.Millisecond), known.Sub(killed).Round(time.Millisecond))
	log, _ := os.ReadFile(w.ctl.logPath("dks"))
	if !strings.Contains(string(log), "replica 1: PREEMPTED: node 0 of cluster dks-1 is STOPPED: container "+container+" died") {
		t.Errorf("the loss was not told by the node's event:\n%s", log)
	}
	waitFor(t, w, "dks", "replica 1 replaced", func(s api.Service) bool {
		ready := readyReplicas(s)
		return len(ready) == 1 && ready[0] == 2 && len(s.Replicas) == 1 // a preempted replica is forgotten
	})
	if id := get(t, res.Endpoint); id != 2 {
		t.Fatalf("answered by replica %d after the replacement", id)
	}
	if _, err := api.Wait(w.ctl.ServeDown(ctx, api.ServeDownRequest{Names: []string{"dks"}})); err != nil {
		t.Fatal(err)
	}
	if cs, _ := w.core.Status(ctx, nil, false); len(cs) != 0 {
		t.Fatalf("clusters after down: %+v", cs)
	}
}

// pollLB sends GET /id through the load balancer every 10 ms, each on its own (one to a dead replica may hang
// until its connect timeout), until one is answered status; it returns when.
func pollLB(t *testing.T, endpoint string, status int) time.Time {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	got := make(chan time.Time, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	for {
		select {
		case at := <-got:
			return at
		case <-deadline:
			t.Fatalf("the load balancer never answered %d", status)
		case <-tick.C:
			go func() {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+endpoint+"/id", nil)
				if resp, err := c.Do(req); err == nil {
					resp.Body.Close()
					if resp.StatusCode == status {
						select {
						case got <- time.Now():
						default:
						}
					}
				}
			}()
		}
	}
}
