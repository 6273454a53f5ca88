package sshpool

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/agent/agenttls"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/testutil/sshhost"
)

// agentsOf lists the agent processes (pid: command line) serving a directory of cluster name on any host: the
// netns hosts share this machine's process table.
func agentsOf(t *testing.T, name string) []string {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) < 2 || !strings.HasPrefix(filepath.Base(args[0]), "stix-agent") || args[1] != "serve" {
			continue
		}
		if cmd := strings.Join(args, " "); strings.Contains(cmd, "/.stix/clusters/"+name+"/") {
			out = append(out, filepath.Base(filepath.Dir(p))+": "+cmd)
		}
	}
	return out
}

func uniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// Two hosts (network namespaces, addresses of their own) that share one home directory, as lab machines with
// NFS homes do: each node of a 2-node cluster gets its own agent, a gang job runs on both, and stop, down and
// ssh down leave no agent on either host.
func TestHostsSharingAHomeDirectory(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	hosts := []*sshhost.Host{sshhost.StartInNetnsWithHome(t, home), sshhost.StartInNetnsWithHome(t, home)}
	f := fixtureOn(t, hosts, nil)
	ctx := testContext(t)
	f.up(t, ctx)
	name := uniqueName("shared")
	ref := cloud.ClusterRef{Name: name}
	noAgents := func(after string) {
		t.Helper()
		if left := agentsOf(t, name); len(left) > 0 {
			t.Fatalf("agents left after %s:\n%s", after, strings.Join(left, "\n"))
		}
	}

	ci, err := f.p.Provision(ctx, request(name, 2))
	if err != nil {
		t.Fatal(err)
	}
	if got := agentsOf(t, name); len(got) != 2 {
		t.Fatalf("agents after Provision: %d, want one per host:\n%s", len(got), strings.Join(got, "\n"))
	}
	if ci.Nodes[0].AgentDir == ci.Nodes[1].AgentDir {
		t.Fatalf("both nodes have the agent directory %s", ci.Nodes[0].AgentDir)
	}
	logs := runGangJob(t, ctx, f, ci, name, `echo "rank $SKYPILOT_NODE_RANK on $(ip -4 -o addr show eth0 | awk '{print $4}')"`)
	for rank, h := range f.hosts {
		if want := fmt.Sprintf("rank %d on %s/", rank, h.Host); !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}

	if err := f.p.Stop(ctx, ref); err != nil {
		t.Fatal(err)
	}
	noAgents("Stop")
	if _, err := f.p.Start(ctx, ref); err != nil {
		t.Fatal(err)
	}
	assertStates(t, f.p, name, cloud.NodeRunning, cloud.NodeRunning)
	if err := f.p.Terminate(ctx, ref); err != nil {
		t.Fatal(err)
	}
	noAgents("Terminate")

	// ssh down stops agents that no cluster records any more (a lost state file).
	if _, err := f.p.Provision(ctx, request(name, 2)); err != nil {
		t.Fatal(err)
	}
	if err := f.p.forget(ctx, name); err != nil {
		t.Fatal(err)
	}
	res, err := f.p.Down(ctx, "pool", nil)
	if err != nil || Failed(res) {
		t.Fatalf("Down: %+v, %v", res, err)
	}
	noAgents("ssh down")
	if _, err := os.Stat(filepath.Join(home, ".stix")); !os.IsNotExist(err) {
		t.Errorf("~/.stix after ssh down: %v", err)
	}
}

// runGangJob configures the head of ci and runs a 2-node job through it (the head reaching the worker at its
// address), failing the test unless it succeeds; it returns the job's log.
func runGangJob(t *testing.T, ctx context.Context, f *fixture, ci *cloud.ClusterInfo, name, run string) string {
	t.Helper()
	head, err := f.p.Transport(ctx, ci, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer head.Close()
	c := agentClient(t, ci, head.Dial)
	defer c.Close()
	cfg := agent.ClusterConfig{ClusterName: name, Cloud: "SSH", Region: "pool"}
	for _, n := range ci.Nodes {
		cfg.Nodes = append(cfg.Nodes, agent.Node{Rank: n.Rank, IP: n.InternalIP, AgentAddr: n.AgentAddr})
	}
	if err := c.Configure(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	id, err := c.Submit(ctx, agent.JobSpec{NumNodes: 2, DemandPerNode: agent.Demand{CPUs: 0.5}, Run: run})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	status, err := c.Logs(ctx, id, true, 0, &logs)
	if err != nil || status != agent.StatusSucceeded {
		t.Fatalf("job: %s, %v\n%s", status, err, logs.String())
	}
	return logs.String()
}

// agentClient is a client of the head agent of ci reached through dial.
func agentClient(t *testing.T, ci *cloud.ClusterInfo, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *agent.Client {
	t.Helper()
	cfg, err := agenttls.ClientConfig([]byte(ci.CACert))
	if err != nil || cfg == nil {
		t.Fatalf("the cluster's CA: %v, %v", cfg, err)
	}
	return agent.NewClient(ci.Nodes[0].AgentAddr, ci.Secret, dial, agent.WithTLS(cfg))
}
