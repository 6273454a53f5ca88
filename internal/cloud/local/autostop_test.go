package local

import (
	"context"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/cloud"
)

// Nodes that ended themselves for autostop (POST /v1/shutdown on their real agents) are stopped, not unhealthy;
// the head's mark says stop or down; Start brings them back without it.
func TestSelfStoppedNodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newProvider(t)
	info := provision(t, p, "as", 2)
	ref := cloud.ClusterRef{Name: "as", Handle: info.Handle}
	shutdown := func(info *cloud.ClusterInfo, down bool) {
		t.Helper()
		for _, n := range info.Nodes {
			c := agent.NewClient(n.AgentAddr, info.Secret, nil)
			err := c.Shutdown(ctx, agent.ShutdownRequest{Down: down, Exit: agent.NodeExit(p.SelfStopExit())})
			c.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for !equal(query(t, p, ref), statuses(cloud.NodeStopped, cloud.NodeStopped)) {
			if time.Now().After(deadline) {
				t.Fatalf("Query after the agents' shutdown = %v, want both stopped", query(t, p, ref))
			}
			time.Sleep(pollEvery)
		}
	}
	mark := func(info *cloud.ClusterInfo) cloud.SelfStopMark {
		t.Helper()
		m, err := p.SelfStopped(ctx, info)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := mark(info); m != cloud.SelfStopNone {
		t.Errorf("mark of a running cluster = %q", m)
	}
	shutdown(info, false)
	states, err := p.Query(ctx, ref)
	if err != nil || states[1].Reason != "stopped by autostop" {
		t.Errorf("Query = %+v, %v", states, err)
	}
	if m := mark(info); m != cloud.SelfStopStop {
		t.Errorf("mark after autostop = %q, want stop", m)
	}
	info, err = p.Start(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if got := query(t, p, ref); !equal(got, statuses(cloud.NodeRunning, cloud.NodeRunning)) {
		t.Errorf("Query after Start = %v", got)
	}
	if m := mark(info); m != cloud.SelfStopNone {
		t.Errorf("mark after Start = %q, want none", m)
	}
	shutdown(info, true)
	if m := mark(info); m != cloud.SelfStopDown {
		t.Errorf("mark after autodown = %q, want down", m)
	}
}
