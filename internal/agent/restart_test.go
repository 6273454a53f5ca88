package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRestartAfterKill9: the head agent dies with kill -9 while jobs run. The restarted agent keeps finished
// jobs' states, adopts the job whose processes still run (its output keeps flowing into the same log), marks the
// job whose processes died meanwhile FAILED_DRIVER, and still runs the pending job.
func TestRestartAfterKill9(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "restart", []nodeOpts{{cpus: 4}})
	a := c.agents[0]
	gate := filepath.Join(t.TempDir(), "gate")

	done := c.submit(t, JobSpec{Run: "echo done"})
	c.waitStatus(t, done, StatusSucceeded)
	survivor := c.submit(t, JobSpec{Name: "survivor", DemandPerNode: Demand{CPUs: 1},
		Run: fmt.Sprintf("echo before; while [ ! -f %s ]; do sleep 0.02; done; echo after; exit 7", gate)})
	victim := c.submit(t, JobSpec{DemandPerNode: Demand{CPUs: 1}, Run: "sleep 600"})
	pending := c.submit(t, JobSpec{DemandPerNode: Demand{CPUs: 4}, Run: "echo finally"})
	c.waitStatus(t, survivor, StatusRunning)
	c.waitStatus(t, victim, StatusRunning)
	poll(t, 10*time.Second, "the survivor's first line", func() bool {
		return strings.Contains(c.logs(t, survivor, false, 0), "before")
	})

	// RUNNING is recorded just before the processes start: wait for the victim's process record.
	recFile := filepath.Join(a.dir, "procs", fmt.Sprintf("job%d-run-0.json", victim))
	var rec procRecord
	if err := json.Unmarshal([]byte(waitFile(t, recFile)), &rec); err != nil {
		t.Fatal(err)
	}
	a.kill9()
	// While no agent watches, the victim's whole process group (its exit-code wrapper included) is killed.
	if err := syscall.Kill(-rec.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poll(t, 10*time.Second, "the victim's group to die", func() bool { return !rec.job().Running() })

	a.start()
	c.head = a.client
	if j, _ := c.head.Job(ctxT(t), done); j.Status != StatusSucceeded {
		t.Errorf("finished job is %s after the restart", j.Status)
	}
	j := c.waitStatus(t, victim, StatusFailedDriver)
	if !strings.Contains(j.Message, "without an exit code") {
		t.Errorf("victim's message = %q", j.Message)
	}
	if j, _ := c.head.Job(ctxT(t), survivor); j.Status != StatusRunning {
		t.Fatalf("survivor is %s after the restart, want RUNNING", j.Status)
	}
	if j, _ := c.head.Job(ctxT(t), pending); j.Status != StatusPending {
		t.Fatalf("pending job is %s after the restart, want PENDING", j.Status)
	}
	os.WriteFile(gate, nil, 0o600)
	j = c.waitStatus(t, survivor, StatusFailed)
	if j.ExitCode == nil || *j.ExitCode != 7 {
		t.Errorf("survivor's exit code = %v, want 7 from its rc file", j.ExitCode)
	}
	logs := c.logs(t, survivor, false, 0)
	if strings.Count(logs, "before\n") != 1 || strings.Count(logs, "after\n") != 1 {
		t.Errorf("survivor's log across the restart = %q", logs)
	}
	c.waitStatus(t, pending, StatusSucceeded)
	if got := c.logs(t, pending, false, 0); !strings.HasSuffix(got, "finally\n") {
		t.Errorf("pending job's log = %q", got)
	}
	// Job ids continue after the restart.
	if id := c.submit(t, JobSpec{Run: "true"}); id != pending+1 {
		t.Errorf("next job id = %d, want %d", id, pending+1)
	}
}

// TestWorkerRestartKeepsJob: a worker's agent restarts while its rank runs — stopped with SIGTERM (which leaves
// its jobs alone) and started on the same address, or killed with SIGKILL and started on another port, as
// `stix start` brings it back, after which the head is told the node's new address. The head keeps waiting,
// pulls the rest of the output from the new agent from where it had stopped, and the job succeeds with every
// line exactly once.
func TestWorkerRestartKeepsJob(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		restart func(t *testing.T, c *cluster, w *testAgent)
	}{
		{"same address", func(t *testing.T, _ *cluster, w *testAgent) {
			addr := w.addr
			if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			_ = w.cmd.Wait()
			w.startOn(addr)
		}},
		{"new address", func(t *testing.T, c *cluster, w *testAgent) {
			old := w.addr
			w.kill9()
			w.start()
			if w.addr == old {
				t.Fatalf("the worker came back on its old address %s", old)
			}
			c.cfg.Nodes[1].AgentAddr = w.addr
			if err := c.head.Configure(ctxT(t), c.cfg); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := startCluster(t, "wrestart", []nodeOpts{{cpus: 1}, {cpus: 1}})
			gate := filepath.Join(t.TempDir(), "gate")
			id := c.submit(t, JobSpec{NumNodes: 2, DemandPerNode: Demand{CPUs: 1},
				Run: fmt.Sprintf("echo one $SKYPILOT_NODE_RANK; while [ ! -f %s ]; do sleep 0.02; done; echo two $SKYPILOT_NODE_RANK", gate)})
			poll(t, 10*time.Second, "both ranks' first line", func() bool {
				l := c.logs(t, id, false, 0)
				return strings.Contains(l, "one 0") && strings.Contains(l, "one 1")
			})
			tc.restart(t, c, c.agents[1])
			os.WriteFile(gate, nil, 0o600)
			c.waitStatus(t, id, StatusSucceeded)
			logs := c.logs(t, id, false, 0)
			for _, want := range []string{"one 0", "one 1", "two 0", "two 1"} {
				if strings.Count(logs, want+"\n") != 1 {
					t.Errorf("log has %q %d times:\n%s", want, strings.Count(logs, want+"\n"), logs)
				}
			}
		})
	}
}

// TestWorkerNodeDiesFailsJob: on a cluster configured to fail fast on a node's loss (a managed job's), a worker
// node dies while its rank runs (its agent and the rank's process group killed, as when a local node goes). The
// head does not wait for an agent restart: the worker's agent refuses connections, so after the short grace for
// an in-place restart (AgentGoneAfter) the job fails FAILED_DRIVER, naming the node, and the other rank is
// killed — which is what lets a managed job's controller start recovering within seconds.
func TestWorkerNodeDiesFailsJob(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "wdies", []nodeOpts{{cpus: 1}, {cpus: 1}})
	c.cfg.FailFastOnNodeLoss = true
	if err := c.head.Configure(ctxT(t), c.cfg); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	id := c.submit(t, JobSpec{NumNodes: 2, DemandPerNode: Demand{CPUs: 1},
		Run: fmt.Sprintf(`if [ "$SKYPILOT_NODE_RANK" = 1 ]; then echo $$ > %[1]s.tmp && mv %[1]s.tmp %[1]s; fi; sleep 600`, pidFile)})
	var pid int
	poll(t, 20*time.Second, "rank 1's pid", func() bool {
		b, err := os.ReadFile(pidFile)
		if err == nil {
			pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		return err == nil
	})
	pgid, err := syscall.Getpgid(pid)
	if err != nil {
		t.Fatal(err)
	}
	c.agents[1].kill9()
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	j := c.waitStatus(t, id, StatusFailedDriver)
	for _, want := range []string{"node 1", "refused connections past the 2s grace", "its node is gone"} {
		if !strings.Contains(j.Message, want) {
			t.Errorf("message %q does not say %q", j.Message, want)
		}
	}
}

// TestSecondAgentReplacesFirst: an agent started on a directory another agent still serves (a provisioner took
// a slow agent for a dead one) stops that agent and adopts its running job, instead of two agents sharing one
// job table.
func TestSecondAgentReplacesFirst(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "replace", []nodeOpts{{cpus: 1}})
	first := c.agents[0]
	gate := filepath.Join(t.TempDir(), "gate")
	id := c.submit(t, JobSpec{DemandPerNode: Demand{CPUs: 1},
		Run: fmt.Sprintf("echo before; while [ ! -f %s ]; do sleep 0.02; done; echo after", gate)})
	poll(t, 10*time.Second, "the job's first line", func() bool { return strings.Contains(c.logs(t, id, false, 0), "before") })

	oldPID := first.cmd.Process.Pid
	exited := make(chan struct{})
	go func() { _ = first.cmd.Wait(); close(exited) }() // reap it, so that it does not linger as a zombie
	second := &testAgent{t: t, dir: first.dir, ip: first.ip}
	second.start()
	poll(t, 20*time.Second, fmt.Sprintf("the first agent (pid %d) to stop", oldPID), func() bool {
		select {
		case <-exited:
			return true
		default:
			return false
		}
	})
	if pids := AgentsServing(first.dir); len(pids) != 1 || pids[0] != second.cmd.Process.Pid {
		t.Fatalf("agents serving the directory: %v, want only the second (%d)", pids, second.cmd.Process.Pid)
	}
	c.head = second.client
	os.WriteFile(gate, nil, 0o600)
	c.waitStatus(t, id, StatusSucceeded)
	if l := c.logs(t, id, false, 0); strings.Count(l, "before\n") != 1 || strings.Count(l, "after\n") != 1 {
		t.Errorf("the job's log across the replacement = %q", l)
	}
}
