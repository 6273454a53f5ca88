package services

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
	if ep := s.Replicas[0].Endpoint; strings.HasPrefix(ep, "http://127.") || !strings.HasSuffix(ep, ":8080") || s.Replicas[0].Infra != "Docker" {
		t.Fatalf("replica %+v: want the container's address", s.Replicas[0])
	}
	if id := get(t, res.Endpoint); id != 1 {
		t.Fatalf("answered by replica %d", id)
	}
	container := fmt.Sprintf("stix-%s-%s-0", docker.Namespace(w.home), ReplicaCluster("dks", 1))
	if out, err := exec.Command("docker", "kill", container).CombinedOutput(); err != nil {
		t.Fatalf("docker kill %s: %v: %s", container, err, out)
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
