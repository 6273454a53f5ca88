package agent

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// agentBin is the stix-agent binary built once for the test run: the tests drive real agent processes.
var agentBin string

func TestMain(m *testing.M) {
	// A flush that cannot finish (a store gone) fails a test within a minute instead of the default 10.
	if os.Getenv("STIX_MOUNT_FLUSH_TIMEOUT") == "" {
		os.Setenv("STIX_MOUNT_FLUSH_TIMEOUT", "60s")
	}
	tmp, err := os.MkdirTemp("", "stix-agent-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	agentBin = filepath.Join(tmp, "stix-agent")
	args := []string{"build", "-o", agentBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "github.com/stix-run/stix/cmd/stix-agent")...)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build stix-agent: %v\n%s", err, out)
		os.RemoveAll(tmp)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

const testSecret = "s3cret-for-tests"

// testAgent is one real agent process on a loopback address with its own node directory.
type testAgent struct {
	t      testing.TB
	dir    string
	ip     string
	env    []string
	args   []string
	cmd    *exec.Cmd
	addr   string
	client *Client
	// clientOpts are how the test's client reaches the agent (WithTLS).
	clientOpts []ClientOption
}

// startAgent starts an agent in a fresh node directory on ip (127.0.0.x). env adds to its environment.
func startAgent(t testing.TB, ip string, env []string, args ...string) *testAgent {
	t.Helper()
	a := newTestAgent(t, ip, env, args...)
	a.start()
	return a
}

// newTestAgent makes the node directory (with the secret) of an agent not started yet.
func newTestAgent(t testing.TB, ip string, env []string, args ...string) *testAgent {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte(testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &testAgent{t: t, dir: dir, ip: ip, env: env, args: args}
	t.Cleanup(func() {
		if err := KillAll(dir); err != nil {
			t.Errorf("KillAll: %v", err)
		}
		if a.cmd != nil {
			_ = a.cmd.Wait()
		}
		b, _ := os.ReadFile(filepath.Join(dir, "agent.log"))
		if strings.Contains(string(b), "DATA RACE") {
			t.Errorf("the race detector fired in agent %s", ip)
		}
		if t.Failed() {
			t.Logf("agent %s log:\n%s", ip, b)
		}
	})
	return a
}

// start runs the agent process on a free port of its ip and waits until it answers health checks.
func (a *testAgent) start() {
	a.t.Helper()
	a.startOn(a.ip + ":0")
}

// startOn runs the agent process listening on listen.
func (a *testAgent) startOn(listen string) {
	t := a.t
	t.Helper()
	addrFile := filepath.Join(a.dir, "agent.addr")
	os.Remove(addrFile) // a previous process's, after kill -9
	logf, err := os.OpenFile(filepath.Join(a.dir, "agent.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	args := append([]string{"serve", "--dir", a.dir, "--listen", listen, "--kill-grace", "1s"}, a.args...)
	a.cmd = exec.Command(agentBin, args...)
	a.cmd.Env = append(os.Environ(), a.env...)
	a.cmd.Stdout, a.cmd.Stderr = logf, logf
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := a.cmd.Process.Pid
	poll(t, 20*time.Second, "agent to write agent.addr", func() bool {
		if !processAlive(pid) {
			b, _ := os.ReadFile(filepath.Join(a.dir, "agent.log"))
			t.Fatalf("agent exited at start:\n%s", b)
		}
		b, err := os.ReadFile(addrFile)
		if err != nil {
			return false
		}
		a.addr = strings.TrimSpace(string(b))
		return true
	})
	a.client = NewClient(a.addr, testSecret, nil, a.clientOpts...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := a.client.Health(ctx)
	if err != nil {
		t.Fatalf("health: %v", err)
	}
	if h.PID != a.cmd.Process.Pid || h.Dir != a.dir {
		t.Fatalf("health = %+v, want pid %d dir %s", h, a.cmd.Process.Pid, a.dir)
	}
}

func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && len(b) > i+2 && b[i+2] != 'Z'
}

// kill9 kills the agent process (only it: its jobs live on in their own sessions).
func (a *testAgent) kill9() {
	a.t.Helper()
	if err := a.cmd.Process.Kill(); err != nil {
		a.t.Fatal(err)
	}
	_ = a.cmd.Wait()
	a.cmd = nil
}

// poll checks cond until it holds, failing the test at the deadline. Tests synchronise with it, never by
// sleeping a fixed time.
func poll(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cluster is a head and its workers.
type cluster struct {
	head   *Client
	agents []*testAgent
	cfg    ClusterConfig
}

// nodeOpts describes one test node.
type nodeOpts struct {
	cpus float64 // 0: let the head ask the node's fingerprint
	env  []string
}

// startCluster starts one agent per node on 127.0.0.1, 127.0.0.2, ... and configures the first as head.
func startCluster(t testing.TB, name string, nodes []nodeOpts, headArgs ...string) *cluster {
	t.Helper()
	c := &cluster{cfg: ClusterConfig{ClusterName: name, Cloud: "local", Region: "local", User: "alice"}}
	for i, n := range nodes {
		ip := fmt.Sprintf("127.0.0.%d", i+1)
		var args []string
		if i == 0 {
			args = headArgs
		}
		a := startAgent(t, ip, n.env, args...)
		c.agents = append(c.agents, a)
		node := Node{Rank: i, IP: ip, AgentAddr: a.addr}
		node.Resources.CPUs = n.cpus
		c.cfg.Nodes = append(c.cfg.Nodes, node)
	}
	c.head = c.agents[0].client
	if err := c.head.Configure(context.Background(), c.cfg); err != nil {
		t.Fatalf("configure: %v", err)
	}
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (c *cluster) submit(t testing.TB, spec JobSpec) int64 {
	t.Helper()
	id, err := c.head.Submit(ctxT(t), spec)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	return id
}

// waitStatus polls a job until it reaches status.
func (c *cluster) waitStatus(t testing.TB, id int64, status JobStatus) Job {
	t.Helper()
	var j Job
	poll(t, 30*time.Second, fmt.Sprintf("job %d to be %s", id, status), func() bool {
		var err error
		j, err = c.head.Job(ctxT(t), id)
		if err != nil {
			t.Fatalf("job %d: %v", id, err)
		}
		if j.Status.IsTerminal() && j.Status != status {
			t.Fatalf("job %d finished as %s (%s), want %s", id, j.Status, j.Message, status)
		}
		return j.Status == status
	})
	return j
}

func (c *cluster) logs(t testing.TB, id int64, follow bool, tail int) string {
	t.Helper()
	var b strings.Builder
	if _, err := c.head.Logs(ctxT(t), id, follow, tail, &b); err != nil {
		t.Fatalf("logs %d: %v", id, err)
	}
	return b.String()
}

// waitFile polls until path exists and returns its content.
func waitFile(t testing.TB, path string) string {
	t.Helper()
	var b []byte
	poll(t, 30*time.Second, path, func() bool {
		var err error
		b, err = os.ReadFile(path)
		return err == nil && len(b) > 0
	})
	return string(b)
}

// waitGone polls until pid has exited.
func waitGone(t testing.TB, pid int, what string) {
	t.Helper()
	poll(t, 5*time.Second, what+" to exit", func() bool { return !processAlive(pid) })
}
