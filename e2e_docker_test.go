package stix_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
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

// dockerrm CLUSTER RANK removes a node's container, as a launch killed before it created it would leave it.
func dockerRemove(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: dockerrm CLUSTER RANK")
	}
	name := fmt.Sprintf("stix-%s-%s-%s", docker.Namespace(ts.Getenv("STIX_HOME")), args[0], args[1])
	if out, err := exec.Command("docker", "rm", "-f", name).CombinedOutput(); err != nil {
		ts.Fatalf("docker rm %s: %v: %s", name, err, out)
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

// dockerstopped CLUSTER checks that the cluster has containers and that none of them runs.
func dockerStopped(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: dockerstopped CLUSTER")
	}
	names := dockerContainers(ts, args[0])
	if len(names) == 0 {
		ts.Fatalf("cluster %s has no containers", args[0])
	}
	for _, name := range names {
		out, err := exec.Command("docker", "inspect", "-f", "{{.State.Running}}", name).Output()
		ts.Check(err)
		if strings.TrimSpace(string(out)) != "false" {
			ts.Fatalf("container %s still runs", name)
		}
	}
}

// dockerproc CLUSTER RANK REGEX waits until a live process whose command line matches REGEX runs in the node's
// container; `! dockerproc` waits until none does.
func dockerProc(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: dockerproc CLUSTER RANK REGEX")
	}
	re, err := regexp.Compile(args[2])
	ts.Check(err)
	name := fmt.Sprintf("stix-%s-%s-%s", docker.Namespace(ts.Getenv("STIX_HOME")), args[0], args[1])
	// Every process that is not a zombie, one command line a line (busybox sh in the node image).
	const list = `for d in /proc/[0-9]*; do s=$(cat $d/stat 2>/dev/null) || continue; s=${s##*) }; ` +
		`[ "${s%% *}" = Z ] && continue; tr '\0' ' ' < $d/cmdline; echo; done`
	poll(ts, fmt.Sprintf("a process matching %q in %s to be %s", args[2], name, map[bool]string{false: "running", true: "gone"}[neg]), func() (bool, error) {
		out, err := exec.Command("docker", "exec", name, "sh", "-c", list).Output()
		if err != nil {
			return false, fmt.Errorf("docker exec %s: %v", name, err)
		}
		var found []string
		for _, line := range strings.Split(string(out), "\n") {
			if re.MatchString(line) {
				found = append(found, line)
			}
		}
		return (len(found) > 0) != neg, fmt.Errorf("matching: %q", found)
	})
}

// holdport VAR listens on a free port of this host until the script ends, and sets VAR to its number.
func holdPort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: holdport VAR")
	}
	l, err := net.Listen("tcp", ":0")
	ts.Check(err)
	ts.Defer(func() { l.Close() })
	ts.Setenv(args[0], strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
}

// dockerpublished CLUSTER PORT: the head container's PORT is published on a host port other than PORT, through
// which the task's HTTP server answers (polled until the deadline).
func dockerPublished(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: dockerpublished CLUSTER PORT")
	}
	name := fmt.Sprintf("stix-%s-%s-0", docker.Namespace(ts.Getenv("STIX_HOME")), args[0])
	out, err := exec.Command("docker", "port", name, args[1]+"/tcp").Output()
	ts.Check(err)
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	i := strings.LastIndex(first, ":")
	if i < 0 {
		ts.Fatalf("docker port %s %s: %q", name, args[1], out)
	}
	host := first[i+1:]
	if host == args[1] {
		ts.Fatalf("port %s is published on the same host port, which the script holds", args[1])
	}
	poll(ts, "the task's server on host port "+host, func() (bool, error) {
		resp, err := http.Get("http://127.0.0.1:" + host + "/")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}
