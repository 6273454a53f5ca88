package agent

import (
	"context"
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
)

// TestHungAgent: with the head's agent stopped (SIGSTOP: its kernel still accepts connections, nothing answers),
// every call ends with an *api.NodeNotAnsweringError naming the node — quick calls at their deadline, long ones
// (cancel, a log stream that was flowing) when a liveness check gets no answer — and once the agent runs again,
// calls work.
func TestHungAgent(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "hung", []nodeOpts{{cpus: 1}})
	id := c.submit(t, JobSpec{Run: "echo first; sleep 600"})
	c.waitStatus(t, id, StatusRunning)
	a := c.agents[0]
	fast := NewClient(a.addr, testSecret, nil, WithNode("hung", 0), WithTimeout(500*time.Millisecond))
	defer fast.Close()

	var followed syncBuilder
	followErr := make(chan error, 1)
	go func() {
		_, err := fast.Logs(context.Background(), id, true, 0, &followed)
		followErr <- err
	}()
	poll(t, 20*time.Second, "the followed log's first line", func() bool { return strings.Contains(followed.String(), "first") })

	pid := a.cmd.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	cont := sync.OnceFunc(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	t.Cleanup(cont)

	notAnswering := func(what string, err error) {
		t.Helper()
		var na *api.NodeNotAnsweringError
		if !errors.As(err, &na) {
			t.Errorf("%s: err = %v, want *api.NodeNotAnsweringError", what, err)
			return
		}
		if na.Cluster != "hung" || na.Node != 0 || na.Addr != a.addr {
			t.Errorf("%s: error names cluster %q node %d at %s", what, na.Cluster, na.Node, na.Addr)
		}
		for _, want := range []string{`cluster "hung": node 0`, "is not answering", "stix status -r hung", "stix start hung"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not say %q", what, err, want)
			}
		}
	}
	select {
	case err := <-followErr:
		notAnswering("logs -f", err)
	case <-time.After(60 * time.Second):
		t.Fatal("logs -f still follows a stopped agent after 60s")
	}
	ctx := ctxT(t)
	_, err := fast.Jobs(ctx, JobsQuery{})
	notAnswering("jobs", err)
	_, err = fast.Submit(ctx, JobSpec{Run: "true"})
	notAnswering("submit", err)
	_, err = fast.Logs(ctx, id, false, 0, &strings.Builder{})
	notAnswering("logs", err)
	_, err = fast.Cancel(ctx, CancelRequest{IDs: []int64{id}})
	notAnswering("cancel", err)
	_, err = fast.SetAutostop(ctx, AutostopRequest{IdleMinutes: 5})
	notAnswering("autostop", err)

	cont()
	if _, err := fast.Jobs(ctx, JobsQuery{}); err != nil {
		t.Fatalf("jobs once the agent runs again: %v", err)
	}
	// The cancel that timed out may have been carried out already: the stopped agent read it from its socket
	// when it ran again (docs/agent.md). Either way the job ends cancelled.
	res, err := c.head.Cancel(ctx, CancelRequest{IDs: []int64{id}})
	if err != nil || len(res.Jobs) != 1 || res.Jobs[0].Status != StatusCancelled {
		t.Fatalf("cancel once the agent runs again: %+v, %v", res, err)
	}
	if got := c.logs(t, id, false, 0); !strings.Contains(got, "first") {
		t.Errorf("log after the agent ran again: %q", got)
	}
}
