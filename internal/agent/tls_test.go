package agent

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/agent/agenttls"
)

// startTLSAgent starts an agent on ip with TLS files issued by a fresh CA, and a test client that trusts it.
func startTLSAgent(t *testing.T, ip string) (*testAgent, *agenttls.CA) {
	t.Helper()
	ca, err := agenttls.NewCA("tls-test")
	if err != nil {
		t.Fatal(err)
	}
	a := newTLSAgent(t, ip, ca)
	a.start()
	return a, ca
}

// newTLSAgent makes the node directory of an agent on ip, not started yet, with TLS files issued by ca, and
// gives its test client the CA to trust.
func newTLSAgent(t *testing.T, ip string, ca *agenttls.CA) *testAgent {
	t.Helper()
	a := newTestAgent(t, ip, nil)
	cert, key, err := ca.Issue(ip)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{agenttls.CAFile: ca.CertPEM, agenttls.CertFile: cert, agenttls.KeyFile: key} {
		if err := os.WriteFile(filepath.Join(a.dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := agenttls.ClientConfig(ca.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	a.clientOpts = []ClientOption{WithTLS(cfg)}
	return a
}

// A head agent restarted while a job runs calls its workers over TLS at once: the job goes on to succeed.
func TestHeadRestartKeepsTLSWorkers(t *testing.T) {
	t.Parallel()
	ca, err := agenttls.NewCA("tls-restart")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{cfg: ClusterConfig{ClusterName: "tlsrestart", Cloud: "docker", Region: "local", User: "alice"}}
	for i, ip := range []string{"127.0.0.73", "127.0.0.74"} {
		a := newTLSAgent(t, ip, ca)
		a.start()
		c.agents = append(c.agents, a)
		node := Node{Rank: i, IP: ip, AgentAddr: a.addr}
		node.Resources.CPUs = 1
		c.cfg.Nodes = append(c.cfg.Nodes, node)
	}
	c.head = c.agents[0].client
	if err := c.head.Configure(ctxT(t), c.cfg); err != nil {
		t.Fatal(err)
	}
	gate := filepath.Join(t.TempDir(), "gate")
	id := c.submit(t, JobSpec{NumNodes: 2, DemandPerNode: Demand{CPUs: 1},
		Run: fmt.Sprintf("echo one $SKYPILOT_NODE_RANK; while [ ! -f %s ]; do sleep 0.02; done; echo two $SKYPILOT_NODE_RANK", gate)})
	poll(t, 10*time.Second, "both ranks' first line", func() bool {
		l := c.logs(t, id, false, 0)
		return strings.Contains(l, "one 0") && strings.Contains(l, "one 1")
	})
	head := c.agents[0]
	head.kill9()
	head.startOn(c.cfg.Nodes[0].AgentAddr)
	c.head = head.client
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c.waitStatus(t, id, StatusSucceeded)
	if l := c.logs(t, id, false, 0); !strings.Contains(l, "two 1") {
		t.Errorf("the worker's rank after the head's restart is missing from the log:\n%s", l)
	}
}

// recorder keeps every byte a connection carried, both ways.
type recorder struct {
	net.Conn
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (r recorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	r.buf.Write(p[:n])
	r.mu.Unlock()
	return n, err
}

func (r recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.buf.Write(p)
	r.mu.Unlock()
	return r.Conn.Write(p)
}

// An agent with a certificate speaks TLS only: plain HTTP is refused, a client that does not trust the
// cluster's CA fails its handshake, and the secret never crosses the wire in clear.
func TestAgentServesTLS(t *testing.T) {
	t.Parallel()
	a, _ := startTLSAgent(t, "127.0.0.61")
	ctx := ctxT(t)

	plain := NewClient(a.addr, testSecret, nil)
	defer plain.Close()
	if _, err := plain.Health(ctx); err == nil || !strings.Contains(err.Error(), "HTTP request to an HTTPS server") {
		t.Errorf("plain HTTP to a TLS agent: %v, want it refused", err)
	}
	other, err := agenttls.NewCA("other")
	if err != nil {
		t.Fatal(err)
	}
	otherCfg, _ := agenttls.ClientConfig(other.CertPEM)
	stranger := NewClient(a.addr, testSecret, nil, WithTLS(otherCfg))
	defer stranger.Close()
	if _, err := stranger.Health(ctx); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("a client without the cluster's CA: %v, want a certificate error", err)
	}

	var mu sync.Mutex
	var wire bytes.Buffer
	var d net.Dialer
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return recorder{Conn: c, mu: &mu, buf: &wire}, nil
	}
	c := NewClient(a.addr, testSecret, dial, a.clientOpts...)
	defer c.Close()
	if _, err := c.Health(ctx); err != nil {
		t.Fatalf("a client trusting the cluster's CA: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if wire.Len() == 0 || bytes.Contains(wire.Bytes(), []byte(testSecret)) || bytes.Contains(wire.Bytes(), []byte("/v1/health")) {
		t.Errorf("the wire carried %d bytes with the secret or the request in clear", wire.Len())
	}
}
