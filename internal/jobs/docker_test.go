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
