package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/agent/proc"
	"github.com/stix-run/stix/internal/atomicfile"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/nodeagent"
	"github.com/stix-run/stix/internal/testutil"
	"github.com/stix-run/stix/internal/transport"
)

// TestMain runs the tests with the real stix-agent (testutil.RunWithAgent).
func TestMain(m *testing.M) {
	// Every agent then reports one T4, whatever this machine has.
	os.Setenv("STIX_FAKE_GPUS", "T4:1")
	os.Exit(testutil.RunWithAgent(m))
}

func newProvider(t *testing.T) *Provider {
	t.Helper()
	p, err := New(Options{Root: filepath.Join(t.TempDir(), "local")})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// provision creates a cluster that the test's cleanup terminates, so that no agent outlives the test.
func provision(t *testing.T, p *Provider, name string, nodes int) *cloud.ClusterInfo {
	t.Helper()
	ref := cloud.ClusterRef{Name: name}
	t.Cleanup(func() {
		if err := p.Terminate(context.Background(), ref); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	info, err := p.Provision(context.Background(), cloud.ProvisionRequest{
		Cluster: ref, Requirements: cloud.Requirements{NumNodes: nodes},
	})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func query(t *testing.T, p *Provider, ref cloud.ClusterRef) []cloud.NodeStatus {
	t.Helper()
	states, err := p.Query(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	out := []cloud.NodeStatus{}
	for _, s := range states {
		out = append(out, s.Status)
	}
	return out
}

func statuses(s ...cloud.NodeStatus) []cloud.NodeStatus { return s }

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func pids(t *testing.T, info *cloud.ClusterInfo) []int {
	t.Helper()
	var out []int
	for _, n := range info.Nodes {
		out = append(out, agentPID(n.AgentDir))
	}
	return out
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newProvider(t)
	info := provision(t, p, "dev", 2)
	ref := cloud.ClusterRef{Name: "dev", Handle: info.Handle}

	if info.Cloud != "local" || info.Region != "local" || len(info.Nodes) != 2 || len(info.Secret) != 64 {
		t.Fatalf("info = %+v", info)
	}
	ips := info.InternalIPs()
	for i, n := range info.Nodes {
		ip := netip.MustParseAddr(n.InternalIP)
		if !ip.IsLoopback() || n.InternalIP == "127.0.0.1" || ip.As4()[1] != p.subnet() {
			t.Errorf("node %d IP %s: want a loopback address in 127.%d.0.0/16", i, n.InternalIP, p.subnet())
		}
		if host, _, _ := strings.Cut(n.AgentAddr, ":"); host != n.InternalIP {
			t.Errorf("node %d agent listens on %s, not on its IP %s", i, n.AgentAddr, n.InternalIP)
		}
		// The agent's files are apart from the jobs' home, so that jobs can be kept from them.
		home, adir := filepath.Join(p.root, "dev", fmt.Sprintf("node-%d", i)), filepath.Join(p.root, "dev", fmt.Sprintf("agent-%d", i))
		if n.Home != home || n.AgentDir != adir {
			t.Errorf("node %d home %s, agent dir %s; want %s and %s", i, n.Home, n.AgentDir, home, adir)
		}
		if n.Resources.CPUs < 1 || n.Resources.MemoryGB <= 0 || n.Resources.Accelerators["T4"] != 1 {
			t.Errorf("node %d resources %+v: want the agent's report", i, n.Resources)
		}
		fi, err := os.Stat(filepath.Join(n.AgentDir, nodeagent.SecretFile))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("node %d secret file: %v, %v; want mode 0600", i, fi, err)
		}
		// The agent is not our child: it must outlive the stix process that started it.
		if ppid := parentOf(t, agentPID(n.AgentDir)); ppid == os.Getpid() {
			t.Errorf("node %d agent is a child of the provisioning process", i)
		}
	}
	if ips[0] == ips[1] {
		t.Errorf("nodes share the IP %s", ips[0])
	}
	if got := query(t, p, ref); !equal(got, statuses(cloud.NodeRunning, cloud.NodeRunning)) {
		t.Errorf("Query after provision = %v", got)
	}
	dir, err := p.clusterDir(ref)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := readRecord(dir, ref.Name)
	if err != nil {
		t.Fatal(err)
	}
	again, err := p.info(dir, rec)
	if err != nil {
		t.Fatal(err)
	}
	if !equal(again.InternalIPs(), ips) || again.Secret != info.Secret || again.Nodes[1].AgentAddr != info.Nodes[1].AgentAddr {
		t.Errorf("ClusterInfo = %+v, want what Provision returned: %+v", again, info)
	}

	// Stop: processes gone, directories kept.
	running := pids(t, info)
	if err := p.Stop(ctx, ref); err != nil {
		t.Fatal(err)
	}
	for i, pid := range running {
		if processRunning(pid) {
			t.Errorf("node %d agent %d still runs after Stop", i, pid)
		}
		if _, err := os.Stat(info.Nodes[i].Home); err != nil {
			t.Errorf("node %d home after Stop: %v", i, err)
		}
	}
	if got := query(t, p, ref); !equal(got, statuses(cloud.NodeStopped, cloud.NodeStopped)) {
		t.Errorf("Query after stop = %v", got)
	}

	// Start: same addresses, same secret, new agents.
	started, err := p.Start(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if !equal(started.InternalIPs(), ips) || started.Secret != info.Secret {
		t.Errorf("Start gave IPs %v and secret %q; want %v and the old secret", started.InternalIPs(), started.Secret, ips)
	}
	if got := query(t, p, ref); !equal(got, statuses(cloud.NodeRunning, cloud.NodeRunning)) {
		t.Errorf("Query after start = %v", got)
	}

	// Provision of a running cluster changes nothing.
	before := pids(t, started)
	same, err := p.Provision(ctx, cloud.ProvisionRequest{Cluster: ref, Requirements: cloud.Requirements{NumNodes: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if !equal(pids(t, same), before) {
		t.Errorf("Provision of a running cluster restarted agents: %v -> %v", before, pids(t, same))
	}

	// Terminate: everything gone; a second Terminate is fine.
	if err := p.Terminate(ctx, ref); err != nil {
		t.Fatal(err)
	}
	for i, pid := range before {
		if processRunning(pid) {
			t.Errorf("node %d agent %d still runs after Terminate", i, pid)
		}
	}
	if _, err := os.Stat(filepath.Join(p.root, "dev")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster directory after Terminate: %v", err)
	}
	if got := query(t, p, ref); len(got) != 0 {
		t.Errorf("Query after terminate = %v, want no nodes", got)
	}
	var nf *cloud.NotFoundError
	if err := p.Stop(ctx, ref); !errors.As(err, &nf) {
		t.Errorf("Stop after terminate: %v, want a NotFoundError", err)
	}
	if err := p.Terminate(ctx, ref); err != nil {
		t.Errorf("second Terminate: %v", err)
	}
}

// TestProvisionWithLostPIDFile: an agent whose pid file was removed still serves its directory; Provision must
// not start a second agent beside it (two agents would run one job table).
func TestProvisionWithLostPIDFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newProvider(t)
	info := provision(t, p, "lost", 1)
	ref := cloud.ClusterRef{Name: "lost", Handle: info.Handle}
	adir := info.Nodes[0].AgentDir
	old := agentPID(adir)
	if err := os.Remove(filepath.Join(adir, nodeagent.PIDFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Provision(ctx, cloud.ProvisionRequest{Cluster: ref, Requirements: cloud.Requirements{NumNodes: 1}}); err != nil {
		t.Fatal(err)
	}
	serving := agent.AgentsServing(adir)
	if len(serving) != 1 {
		t.Errorf("agents serving %s after Provision: %v, want one (the old one was %d)", adir, serving, old)
	}
	if processRunning(old) && !slices.Contains(serving, old) {
		t.Errorf("the old agent %d still runs beside %v", old, serving)
	}
	if got := query(t, p, ref); !equal(got, statuses(cloud.NodeRunning)) {
		t.Errorf("Query after Provision = %v", got)
	}
}

// agentPID returns the pid the agent of dir recorded, 0 when there is none.
func agentPID(dir string) int {
	pid, _ := agent.RecordedAgentPID(dir)
	return pid
}

// processRunning reports whether pid exists and has not exited (a zombie has).
func processRunning(pid int) bool {
	ticks, err := proc.StartTicks(pid)
	return err == nil && proc.Alive(pid, ticks)
}

func parentOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	var ppid int
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	fmt.Sscan(fields[1], &ppid)
	return ppid
}

func TestQueryAfterKill9AndResume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newProvider(t)
	info := provision(t, p, "k", 2)
	ref := cloud.ClusterRef{Name: "k", Handle: info.Handle}
	victim := agentPID(info.Nodes[1].AgentDir)
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The kill is asynchronous: wait for the process to be gone, with a deadline.
	deadline := time.Now().Add(10 * time.Second)
	for processRunning(victim) {
		if time.Now().After(deadline) {
			t.Fatalf("agent %d survives SIGKILL", victim)
		}
		time.Sleep(pollEvery)
	}
	states, err := p.Query(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if states[0].Status != cloud.NodeRunning || states[1].Status != cloud.NodePending || !strings.Contains(states[1].Reason, "gone") {
		t.Errorf("Query after kill -9 of node 1 = %+v", states)
	}
	// Provision resumes the cluster: only the dead node gets a new agent.
	head := agentPID(info.Nodes[0].AgentDir)
	if _, err := p.Provision(ctx, cloud.ProvisionRequest{Cluster: ref, Requirements: cloud.Requirements{NumNodes: 2}}); err != nil {
		t.Fatal(err)
	}
	if got := query(t, p, ref); !equal(got, statuses(cloud.NodeRunning, cloud.NodeRunning)) {
		t.Errorf("Query after resume = %v", got)
	}
	if agentPID(info.Nodes[0].AgentDir) != head {
		t.Error("resume restarted the head's healthy agent")
	}
	// Removing a node's directory behind stix's back makes it missing.
	if err := p.Stop(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(info.Nodes[1].Home); err != nil {
		t.Fatal(err)
	}
	if got := query(t, p, ref); !equal(got, statuses(cloud.NodeStopped, cloud.NodeMissing)) {
		t.Errorf("Query with a node directory removed = %v", got)
	}
}

func TestClustersGetDistinctIPs(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	a := provision(t, p, "a", 2)
	b := provision(t, p, "b", 3)
	seen := map[string]string{}
	for _, c := range []*cloud.ClusterInfo{a, b} {
		for _, n := range c.Nodes {
			if other, dup := seen[n.InternalIP]; dup {
				t.Errorf("IP %s used twice (%s)", n.InternalIP, other)
			}
			seen[n.InternalIP] = n.Home
		}
	}
	// A terminated cluster's addresses are free again.
	if err := p.Terminate(context.Background(), cloud.ClusterRef{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	c := provision(t, p, "c", 2)
	if !equal(c.InternalIPs(), a.InternalIPs()) {
		t.Errorf("cluster c got %v; want a's freed addresses %v", c.InternalIPs(), a.InternalIPs())
	}
}

func TestProvisionErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newProvider(t)
	info := provision(t, p, "one", 1)
	ref := cloud.ClusterRef{Name: "one", Handle: info.Handle}

	_, err := p.Provision(ctx, cloud.ProvisionRequest{Cluster: ref, Requirements: cloud.Requirements{NumNodes: 3}})
	if err == nil || !strings.Contains(err.Error(), "exists with 1 nodes and the request asks for 3") {
		t.Errorf("node count mismatch: %v", err)
	}
	_, err = p.Provision(ctx, cloud.ProvisionRequest{Cluster: ref, Secret: "other"})
	if err == nil || !strings.Contains(err.Error(), "another secret") {
		t.Errorf("secret mismatch: %v", err)
	}
	for _, name := range []string{"", "../x", "a/b", ".hidden"} {
		if _, err := p.Provision(ctx, cloud.ProvisionRequest{Cluster: cloud.ClusterRef{Name: name}}); err == nil {
			t.Errorf("Provision of cluster name %q: want an error", name)
		}
	}
	_, err = p.Provision(ctx, cloud.ProvisionRequest{Cluster: cloud.ClusterRef{Name: "x"}, Offer: cloud.Offer{Cloud: "aws"}})
	if err == nil {
		t.Error("Provision of an aws offer: want an error")
	}
	// A handle pointing at a directory that is not a cluster is never removed.
	plain := t.TempDir()
	os.WriteFile(filepath.Join(plain, "precious"), []byte("x"), 0o644)
	if err := p.Terminate(ctx, cloud.ClusterRef{Name: "x", Handle: []byte(`{"dir":"` + plain + `"}`)}); err == nil {
		t.Error("Terminate of a non-cluster directory: want an error")
	}
	if _, err := os.Stat(filepath.Join(plain, "precious")); err != nil {
		t.Errorf("Terminate removed a directory that held no cluster: %v", err)
	}
}

// stubAgent writes a shell script that stands in for a broken stix-agent.
func stubAgent(t *testing.T, body string) func() (string, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), nodeagent.BinaryName)
	if err := atomicfile.WriteExecutable(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return func() (string, error) { return p, nil }
}

func TestAgentThatFailsToStart(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "local")
	p, err := New(Options{Root: root, AgentBinary: stubAgent(t, `echo "cannot open the job database" >&2; exit 1`)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Provision(context.Background(), cloud.ProvisionRequest{Cluster: cloud.ClusterRef{Name: "bad"}})
	if err == nil || !strings.Contains(err.Error(), "exited during start") || !strings.Contains(err.Error(), "cannot open the job database") {
		t.Fatalf("error = %v; want one saying the agent exited, with its log", err)
	}
	if _, err := os.Stat(filepath.Join(root, "bad")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a cluster that failed to come up is left behind: %v", err)
	}
}

func TestAgentThatNeverAnswers(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "stub.pid")
	p, err := New(Options{
		Root:         filepath.Join(t.TempDir(), "local"),
		AgentBinary:  stubAgent(t, fmt.Sprintf(`echo $$ > %s; echo "waiting for a lock" >&2; exec sleep 60`, pidFile)),
		StartTimeout: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Provision(context.Background(), cloud.ProvisionRequest{Cluster: cloud.ClusterRef{Name: "mute"}})
	if err == nil || !strings.Contains(err.Error(), "did not answer within 300ms") || !strings.Contains(err.Error(), "waiting for a lock") {
		t.Fatalf("error = %v; want a timeout with the agent's log", err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	if processRunning(pid) {
		t.Errorf("the agent that never answered (pid %d) still runs", pid)
	}
}

func TestMissingAgentBinary(t *testing.T) {
	t.Parallel()
	p, err := New(Options{Root: t.TempDir(), AgentBinary: func() (string, error) { return "", nodeagent.ErrBinaryNotFound }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Provision(context.Background(), cloud.ProvisionRequest{Cluster: cloud.ClusterRef{Name: "x"}})
	if !errors.Is(err, nodeagent.ErrBinaryNotFound) {
		t.Errorf("Provision without an agent binary: %v", err)
	}
}

func TestNodeTransport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newProvider(t)
	info := provision(t, p, "tr", 2)
	tr, err := p.Transport(ctx, info, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var out bytes.Buffer
	if code, err := tr.Run(ctx, `echo "$HOME"`, transport.RunOptions{Stdout: &out}); err != nil || code != 0 {
		t.Fatalf("Run: %d, %v", code, err)
	}
	if got := strings.TrimSpace(out.String()); got != info.Nodes[1].Home {
		t.Errorf("HOME on node 1 = %q, want %q", got, info.Nodes[1].Home)
	}
	conn, err := tr.Dial(ctx, "tcp", info.Nodes[1].AgentAddr)
	if err != nil {
		t.Fatalf("dial the node's agent through its transport: %v", err)
	}
	conn.Close()
	if _, err := p.Transport(ctx, info, 2); err == nil {
		t.Error("Transport of rank 2 in a 2-node cluster: want an error")
	}
}

func TestConcurrentProvisionOfOneCluster(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	ref := cloud.ClusterRef{Name: "race"}
	t.Cleanup(func() { p.Terminate(context.Background(), ref) })
	infos := make([]*cloud.ClusterInfo, 2)
	errs := make([]error, 2)
	done := make(chan int, 2)
	for i := range 2 {
		go func() {
			infos[i], errs[i] = p.Provision(context.Background(), cloud.ProvisionRequest{Cluster: ref, Requirements: cloud.Requirements{NumNodes: 2}})
			done <- i
		}()
	}
	<-done
	<-done
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("errors: %v, %v", errs[0], errs[1])
	}
	if !equal(pids(t, infos[0]), pids(t, infos[1])) || infos[0].Secret != infos[1].Secret {
		t.Errorf("two launches of one cluster started different agents: %v and %v", pids(t, infos[0]), pids(t, infos[1]))
	}
}

func TestStopEndsJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newProvider(t)
	info := provision(t, p, "jobs", 1)
	tr, err := p.Transport(ctx, info, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	c := agent.NewClient(info.Nodes[0].AgentAddr, info.Secret, tr.Dial)
	defer c.Close()
	st, err := c.StartProc(ctx, agent.ProcSpec{ID: "sleeper", Script: "sleep 300"})
	if err != nil {
		t.Fatal(err)
	}
	if !processRunning(st.PID) {
		t.Fatalf("job process %d is not running", st.PID)
	}
	if err := p.Stop(ctx, cloud.ClusterRef{Name: "jobs", Handle: info.Handle}); err != nil {
		t.Fatal(err)
	}
	if processRunning(st.PID) {
		t.Errorf("job process %d survived Stop", st.PID)
	}
}

// BenchmarkProvisionStopStartTerminate measures the lifecycle of a 2-node cluster with the real agent.
func BenchmarkProvisionStopStartTerminate(b *testing.B) {
	ctx := context.Background()
	p, err := New(Options{Root: filepath.Join(b.TempDir(), "local")})
	if err != nil {
		b.Fatal(err)
	}
	ref := cloud.ClusterRef{Name: "bench"}
	req := cloud.ProvisionRequest{Cluster: ref, Requirements: cloud.Requirements{NumNodes: 2}}
	var provision, stop, start, terminate time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := p.Provision(ctx, req); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := p.Stop(ctx, ref); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if _, err := p.Start(ctx, ref); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		if err := p.Terminate(ctx, ref); err != nil {
			b.Fatal(err)
		}
		provision, stop, start, terminate = provision+t1.Sub(t0), stop+t2.Sub(t1), start+t3.Sub(t2), terminate+time.Since(t3)
	}
	n := float64(b.N)
	b.ReportMetric(float64(provision.Milliseconds())/n, "provision-ms")
	b.ReportMetric(float64(stop.Milliseconds())/n, "stop-ms")
	b.ReportMetric(float64(start.Milliseconds())/n, "start-ms")
	b.ReportMetric(float64(terminate.Milliseconds())/n, "terminate-ms")
}

// Local clusters keep what other users of the machine must not read private, whatever made the directories
// before: the provider's root and each cluster directory are 0700, the secret 0600.
func TestClusterFilesArePrivate(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	if err := os.MkdirAll(p.root, 0o755); err != nil { // made by someone else, readable by all
		t.Fatal(err)
	}
	info := provision(t, p, "private", 1)
	for path, want := range map[string]os.FileMode{
		p.root:                           0o700,
		filepath.Join(p.root, "private"): 0o700,
		info.Nodes[0].AgentDir:           0o700,
		filepath.Join(info.Nodes[0].AgentDir, nodeagent.SecretFile): 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s has mode %v, want %v", path, got, want)
		}
	}
}
