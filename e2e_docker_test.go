package stix_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/stix-run/stix/internal/cloud/docker"
)

// dockerContainers lists, through the docker CLI, the containers of a cluster of this script's STIX_HOME.
func dockerContainers(ts *testscript.TestScript, cluster string) []string {
	out, err := exec.CommandContext(context.Background(), "docker", "ps", "-a", "--filter", "label=stix.cluster="+cluster,
		"--format", "{{.Label \"stix.home\"}} {{.Names}}").Output()
	ts.Check(err)
	home := docker.Namespace(ts.Getenv("STIX_HOME"))
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if h, name, ok := strings.Cut(line, " "); ok && h == home {
			names = append(names, name)
		}
	}
	return names
}

// dockerkill CLUSTER RANK kills a node's container, as a crash would.
func dockerKill(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: dockerkill CLUSTER RANK")
	}
	name := fmt.Sprintf("stix-%s-%s-%s", docker.Namespace(ts.Getenv("STIX_HOME")), args[0], args[1])
	if out, err := exec.Command("docker", "kill", name).CombinedOutput(); err != nil {
		ts.Fatalf("docker kill %s: %v: %s", name, err, out)
	}
}

// dockerkillagent CLUSTER RANK kills, with SIGKILL, the agent in a node's container; its jobs live on.
func dockerKillAgent(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: dockerkillagent CLUSTER RANK")
	}
	name := fmt.Sprintf("stix-%s-%s-%s", docker.Namespace(ts.Getenv("STIX_HOME")), args[0], args[1])
	script := `pid=$(cat ~/.stix/agent/agent.pid) && kill -9 $pid && while kill -0 $pid 2>/dev/null; do sleep 0.05; done`
	if out, err := exec.Command("docker", "exec", name, "sh", "-c", script).CombinedOutput(); err != nil {
		ts.Fatalf("kill the agent in %s: %v: %s", name, err, out)
	}
}

// dockergone CLUSTER checks that no container of the cluster is left.
func dockerGone(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: dockergone CLUSTER")
	}
	if left := dockerContainers(ts, args[0]); len(left) > 0 {
		ts.Fatalf("containers left behind: %v", left)
	}
}
