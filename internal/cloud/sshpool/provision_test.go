package sshpool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/agent/agenttls"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/nodeagent"
	"github.com/stix-run/stix/internal/testutil/sshhost"
)

// agentBin is the real stix-agent the tests deploy: $STIX_AGENT_BIN, or one TestMain builds.
var agentBin string

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	agentBin = os.Getenv(nodeagent.BinaryEnv)
	if agentBin == "" {
		dir, err := os.MkdirTemp("", "stix-agent-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		agentBin = filepath.Join(dir, nodeagent.BinaryName)
		build := exec.Command("go", "build", "-o", agentBin, "github.com/stix-run/stix/cmd/stix-agent")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build stix-agent:", err)
			return 1
		}
	}
	return m.Run()
}

// fixture is a pool of real sshd hosts, each on its own loopback address, and a provider over them.
type fixture struct {
	p     *Provider
	hosts []*sshhost.Host
	root  string
}

// newFixture starts n sshd hosts (127.0.0.2, 127.0.0.3, ...) and writes a pools file with one pool, "pool",
// listing them; keyFor may replace a host's identity file.
func newFixture(t *testing.T, n int, keyFor func(i int, h *sshhost.Host) string) *fixture {
	t.Helper()
	var hosts []*sshhost.Host
	for i := range n {
		hosts = append(hosts, sshhost.StartAt(t, fmt.Sprintf("127.0.0.%d", i+2)))
	}
	return fixtureOn(t, hosts, keyFor)
}

// fixtureOn writes a pools file with one pool, "pool", listing the hosts, and returns a provider over it.
func fixtureOn(t *testing.T, hosts []*sshhost.Host, keyFor func(i int, h *sshhost.Host) string) *fixture {
	t.Helper()
	f := &fixture{root: t.TempDir(), hosts: hosts}
	var b strings.Builder
	b.WriteString("pool:\n  hosts:\n")
	for i, h := range hosts {
		key := h.UserKey
		if keyFor != nil {
			key = keyFor(i, h)
		}
		fmt.Fprintf(&b, "    - {ip: %s, port: %d, user: %s, identity_file: %s}\n", h.Host, h.Port, h.User, key)
	}
	pools := filepath.Join(f.root, FileName)
	if err := os.WriteFile(pools, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := New(ProviderOptions{Root: filepath.Join(f.root, "ssh"), PoolsFile: pools, Home: f.root,
		AgentBinary: func() (string, error) { return agentBin, nil }, ConnectTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	f.p = p
	// Registered after the hosts started, so it runs before their sshd stop: no agent outlives the test.
	t.Cleanup(func() {
		if s, err := p.readState(); err == nil {
			for name := range s.Clusters {
				_ = p.Terminate(context.Background(), cloud.ClusterRef{Name: name})
			}
		}
	})
	return f
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// up runs `ssh up` on the pool and fails the test when a host failed.
func (f *fixture) up(t *testing.T, ctx context.Context) []HostResult {
	t.Helper()
	res, err := f.p.Up(ctx, "pool", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("ssh up %s: %v", r.Host.Name, r.Err)
		}
	}
	return res
}

func request(name string, nodes int) cloud.ProvisionRequest {
	return cloud.ProvisionRequest{Cluster: cloud.ClusterRef{Name: name},
		Offer: cloud.Offer{Cloud: Name, Region: "pool"}, Requirements: cloud.Requirements{NumNodes: nodes, Region: "pool"}}
}

// The whole life of a 2-node cluster on a 3-host pool, with the real agent: up, provision, a gang job on both
// ranks, a full pool, stop, start, terminate, down.
func TestClusterLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3, nil)
	ctx := testContext(t)

	if _, err := feasibleNow(context.Background(), f.p, cloud.Requirements{Region: "pool"}); err == nil || !strings.Contains(err.Error(), "stix ssh up --infra pool") {
		t.Fatalf("Feasible before ssh up: %v, want a hint to run ssh up", err)
	}
	res := f.up(t, ctx)
	if res[0].Resources.CPUs <= 0 || res[0].Resources.MemoryGB <= 0 {
		t.Fatalf("ssh up measured %+v", res[0].Resources)
	}
	for _, h := range f.hosts {
		bins, _ := filepath.Glob(filepath.Join(h.Home, ".stix", "bin", "stix-agent-*"))
		if len(bins) != 1 {
			t.Fatalf("host %s: agent binaries after ssh up: %v", h.Host, bins)
		}
	}
	offers, err := feasibleNow(context.Background(), f.p, cloud.Requirements{Region: "pool", NumNodes: 2})
	if err != nil || len(offers) != 1 || offers[0].Region != "pool" || offers[0].HourlyPrice != 0 ||
		!strings.HasSuffix(offers[0].InstanceType, "GB") {
		t.Fatalf("Feasible = %+v, %v", offers, err)
	}

	ci, err := f.p.Provision(ctx, request("c1", 2))
	if err != nil {
		t.Fatal(err)
	}
	if len(ci.Nodes) != 2 || ci.Nodes[0].InternalIP != "127.0.0.2" || ci.Nodes[1].InternalIP != "127.0.0.3" || ci.Region != "pool" {
		t.Fatalf("ClusterInfo nodes = %+v", ci.Nodes)
	}
	// A 2-node job through the head's transport: the head reaches the worker at its host's address.
	logs := runGangJob(t, ctx, f, ci, "c1", `echo "rank $SKYPILOT_NODE_RANK home $HOME ips $(echo $SKYPILOT_NODE_IPS)"`)
	for rank := range 2 {
		want := fmt.Sprintf("rank %d home %s ips 127.0.0.2 127.0.0.3", rank, ci.Nodes[rank].Home)
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}

	// Agent traffic is TLS with the cluster's CA: the head listens on loopback only (reached through the SSH
	// tunnel), the worker on its host's address refuses plain HTTP and clients that do not trust the CA.
	if !strings.HasPrefix(ci.Nodes[0].AgentAddr, "127.0.0.1:") {
		t.Errorf("head agent listens on %s, want loopback", ci.Nodes[0].AgentAddr)
	}
	plain := agent.NewClient(ci.Nodes[1].AgentAddr, ci.Secret, nil)
	defer plain.Close()
	if _, err := plain.Health(ctx); err == nil || !strings.Contains(err.Error(), "HTTP request to an HTTPS server") {
		t.Errorf("plain HTTP to the worker's agent: %v, want it refused", err)
	}
	other, err := agenttls.NewCA("other")
	if err != nil {
		t.Fatal(err)
	}
	otherCfg, _ := agenttls.ClientConfig(other.CertPEM)
	stranger := agent.NewClient(ci.Nodes[1].AgentAddr, ci.Secret, nil, agent.WithTLS(otherCfg))
	defer stranger.Close()
	if _, err := stranger.Health(ctx); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("a client without the cluster's CA: %v, want a certificate error", err)
	}

	// Two of three hosts are taken: another 2-node cluster does not fit, in Feasible or Provision.
	var capErr *cloud.CapacityError
	if _, err := feasibleNow(context.Background(), f.p, cloud.Requirements{Region: "pool", NumNodes: 2}); !errors.As(err, &capErr) ||
		cloud.ScopeOf(err) != (cloud.Scope{Level: cloud.LevelRegion, Cloud: Name, Region: "pool"}) || !strings.Contains(err.Error(), "c1") {
		t.Fatalf("Feasible on a full pool: %v, want a CapacityError for ssh/pool naming c1", err)
	}
	if _, err := f.p.Provision(ctx, request("c2", 2)); !errors.As(err, &capErr) {
		t.Fatalf("Provision on a full pool: %v, want a CapacityError", err)
	}

	// Stop ends the agents and keeps the files; Query says so; Start brings them back.
	if err := f.p.Stop(ctx, cloud.ClusterRef{Name: "c1"}); err != nil {
		t.Fatal(err)
	}
	assertStates(t, f.p, "c1", cloud.NodeStopped, cloud.NodeStopped)
	if _, err := os.Stat(filepath.Join(f.hosts[1].Home, ".stix", "clusters", "c1", "agent-127.0.0.3-"+strconv.Itoa(f.hosts[1].Port), "secret")); err != nil {
		t.Errorf("Stop removed the agent's files: %v", err)
	}
	ci2, err := f.p.Start(ctx, cloud.ClusterRef{Name: "c1", Handle: ci.Handle})
	if err != nil {
		t.Fatal(err)
	}
	if ci2.Secret != ci.Secret {
		t.Errorf("Start changed the secret")
	}
	assertStates(t, f.p, "c1", cloud.NodeRunning, cloud.NodeRunning)

	// Terminate removes the cluster's files and frees its hosts.
	if err := f.p.Terminate(ctx, cloud.ClusterRef{Name: "c1"}); err != nil {
		t.Fatal(err)
	}
	for _, h := range f.hosts[:2] {
		if _, err := os.Stat(filepath.Join(h.Home, ".stix", "clusters", "c1")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("host %s: cluster directory after Terminate: %v", h.Host, err)
		}
	}
	if st, err := f.p.Query(ctx, cloud.ClusterRef{Name: "c1"}); err != nil || len(st) != 0 {
		t.Errorf("Query after Terminate = %v, %v; want nothing", st, err)
	}
	if err := f.p.Terminate(ctx, cloud.ClusterRef{Name: "c1"}); err != nil {
		t.Errorf("second Terminate: %v", err)
	}
	if _, err := feasibleNow(context.Background(), f.p, cloud.Requirements{Region: "pool", NumNodes: 3}); err != nil {
		t.Errorf("Feasible for the whole pool after Terminate: %v", err)
	}

	// ssh down refuses while a cluster uses the pool, then cleans every host.
	if _, err := f.p.Provision(ctx, request("c3", 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.p.Down(ctx, "pool", nil); err == nil || !strings.Contains(err.Error(), "c3") {
		t.Fatalf("Down while c3 runs: %v", err)
	}
	if err := f.p.Terminate(ctx, cloud.ClusterRef{Name: "c3"}); err != nil {
		t.Fatal(err)
	}
	res, err = f.p.Down(ctx, "pool", nil)
	if err != nil || Failed(res) {
		t.Fatalf("Down: %+v, %v", res, err)
	}
	for _, h := range f.hosts {
		if _, err := os.Stat(filepath.Join(h.Home, ".stix")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("host %s: ~/.stix after ssh down: %v", h.Host, err)
		}
	}
	if _, err := feasibleNow(context.Background(), f.p, cloud.Requirements{Region: "pool"}); err == nil || !strings.Contains(err.Error(), "ssh up") {
		t.Errorf("Feasible after ssh down: %v", err)
	}
}

func assertStates(t *testing.T, p *Provider, name string, want ...cloud.NodeStatus) {
	t.Helper()
	st, err := p.Query(context.Background(), cloud.ClusterRef{Name: name})
	if err != nil || len(st) != len(want) {
		t.Fatalf("Query = %+v, %v", st, err)
	}
	for i, s := range st {
		if s.Status != want[i] {
			t.Errorf("node %d: %s (%s), want %s", i, s.Status, s.Reason, want[i])
		}
	}
}

// A host that went down fails Provision with a CapacityError naming it, and the claims are released; a wrong
// key is an AuthError from ssh up.
func TestHostFailures(t *testing.T) {
	t.Parallel()
	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, 2, nil)
		ctx := testContext(t)
		f.up(t, ctx)
		f.hosts[1].Stop()
		_, err := f.p.Provision(ctx, request("c", 2))
		var capErr *cloud.CapacityError
		if !errors.As(err, &capErr) || capErr.Region != "pool" || !strings.Contains(err.Error(), f.hosts[1].Host) {
			t.Fatalf("Provision with a host down: %v, want a CapacityError in pool naming %s", err, f.hosts[1].Host)
		}
		s, err := f.p.readState()
		if err != nil || len(s.Clusters) != 0 {
			t.Fatalf("claims after a failed Provision: %+v, %v", s.Clusters, err)
		}
		if st, err := f.p.Query(ctx, cloud.ClusterRef{Name: "c"}); err != nil || len(st) != 0 {
			t.Errorf("Query after failed Provision: %v %v", st, err)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, 1, func(_ int, h *sshhost.Host) string {
			key := filepath.Join(t.TempDir(), "other")
			sshhost.NewKey(t, key)
			return key
		})
		res, err := f.p.Up(testContext(t), "pool", nil)
		var authErr *cloud.AuthError
		if err != nil || len(res) != 1 || !errors.As(res[0].Err, &authErr) || !strings.Contains(res[0].Err.Error(), "127.0.0.2") {
			t.Fatalf("ssh up with a wrong key: %+v, %v; want an AuthError naming the host", res, err)
		}
		if _, err := feasibleNow(context.Background(), f.p, cloud.Requirements{Region: "pool"}); err == nil {
			t.Error("a pool whose only host failed ssh up is feasible")
		}
	})
}
