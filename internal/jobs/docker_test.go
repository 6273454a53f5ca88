package jobs

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cloud/docker"
	"github.com/stix-run/stix/internal/testutil/dockertest"
)

// Docker infra: the job cluster's container is killed mid-job (`docker kill`); the job goes RECOVERING, runs
// again on a new container and succeeds with one recovery. The kill-to-RECOVERING and kill-to-RUNNING times
// are logged (BENCHMARKS.md).
func TestDockerNodeKilled(t *testing.T) {
	t.Parallel()
	cli := dockertest.Client(t)
	dockertest.NodeImage(t, cli)
	w := newWorld(t)
	id := w.launch(t, `name: dk
resources:
  infra: docker
run: |
  echo "started on $(hostname)"
  until [ -f /tmp/go ]; do sleep 0.1; done
  echo done
`, nil)
	r := w.waitFor(t, id, 0, api.ManagedRunning)
	w.waitOutput(t, id, "started on")
	container := fmt.Sprintf("stix-%s-%s-0", docker.Namespace(w.home), r.Cluster)
	killed := time.Now()
	if out, err := exec.Command("docker", "kill", container).CombinedOutput(); err != nil {
		t.Fatalf("docker kill %s: %v: %s", container, err, out)
	}
	w.waitFor(t, id, 0, api.ManagedRecovering, api.ManagedRunning)
	// running again on a new container: the run started a second time
	deadline := time.Now().Add(3 * time.Minute)
	for strings.Count(w.logs(t, id), "started on") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("never ran again: %q\n%s", w.logs(t, id), w.controllerLog(id))
		}
		time.Sleep(50 * time.Millisecond)
	}
	r = w.waitFor(t, id, 0, api.ManagedRunning)
	if out, err := exec.Command("docker", "exec", container, "touch", "/tmp/go").CombinedOutput(); err != nil {
		t.Fatalf("docker exec %s: %v: %s", container, err, out)
	}
	r = w.waitFor(t, id, 0, api.ManagedSucceeded)
	if r.Recoveries != 1 || !strings.Contains(reasons(r), "RECOVERING:preempted") {
		t.Errorf("row %+v, events %s", r, reasons(r))
	}
	logRecovery(t, "docker kill", r, killed)
	if cs := w.clusters(t); len(cs) != 0 {
		t.Errorf("clusters left: %+v", cs)
	}
}

// Docker infra, 2 nodes: the worker's container is killed mid-job. The engine's event of its death reaches the
// controller (api.Client.WatchCluster) — before the head agent would notice the worker's silent address — and
// the job recovers on a new cluster and succeeds. Kill → RECOVERING is logged (BENCHMARKS.md).
func TestDockerWorkerKilled(t *testing.T) {
	t.Parallel()
	cli := dockertest.Client(t)
	dockertest.NodeImage(t, cli)
	w := newWorld(t)
	id := w.launch(t, `name: dkw
num_nodes: 2
resources:
  infra: docker
run: |
  echo "rank $SKYPILOT_NODE_RANK started on $(hostname)"
  until [ -f /tmp/go ]; do sleep 0.1; done
  echo "rank $SKYPILOT_NODE_RANK done"
`, nil)
	r := w.waitFor(t, id, 0, api.ManagedRunning)
	w.waitOutput(t, id, "rank 1 started on")
	first := r.Cluster
	worker := fmt.Sprintf("stix-%s-%s-1", docker.Namespace(w.home), first)
	killed := time.Now()
	if out, err := exec.Command("docker", "kill", worker).CombinedOutput(); err != nil {
		t.Fatalf("docker kill %s: %v: %s", worker, err, out)
	}
	t.Logf("docker kill took %v", time.Since(killed).Round(time.Millisecond))
	w.waitFor(t, id, 0, api.ManagedRecovering, api.ManagedRunning)
	deadline := time.Now().Add(3 * time.Minute)
	for strings.Count(w.logs(t, id), "rank 1 started on") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("never ran again: %q\n%s", w.logs(t, id), w.controllerLog(id))
		}
		time.Sleep(50 * time.Millisecond)
	}
	r = w.waitFor(t, id, 0, api.ManagedRunning)
	for i := range 2 {
		c := fmt.Sprintf("stix-%s-%s-%d", docker.Namespace(w.home), r.Cluster, i)
		if out, err := exec.Command("docker", "exec", c, "touch", "/tmp/go").CombinedOutput(); err != nil {
			t.Fatalf("docker exec %s: %v: %s", c, err, out)
		}
	}
	r = w.waitFor(t, id, 0, api.ManagedSucceeded)
	if r.Recoveries != 1 || !strings.Contains(reasons(r), "RECOVERING:preempted") {
		t.Errorf("row %+v, events %s", r, reasons(r))
	}
	if log := w.controllerLog(id); !strings.Contains(log, "node 1 of cluster "+first+" is STOPPED: container "+worker+" died") {
		t.Errorf("the loss was not told by the node's event:\n%s", log)
	}
	logRecovery(t, "docker kill of the worker", r, killed)
}
