package agent

import (
	"errors"
	"strings"
	"testing"

	"github.com/stix-run/stix/api"
)

// A job spec over the agent's limit (api.MaxTaskBytes and room for a rank's additions) is refused whole with HTTP 413 and the limit in the message, never cut short
// into an "unexpected EOF"; one just under the limit is accepted.
func TestSubmitOverLimitIsRefused(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "limits", []nodeOpts{{cpus: 2}})
	_, err := c.head.Submit(ctxT(t), JobSpec{NumNodes: 1, Run: "true", Envs: map[string]string{"BIG": strings.Repeat("x", maxBody)}})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("submit over the limit: %v, want ErrTooLarge (HTTP 413)", err)
	}
	if !strings.Contains(err.Error(), "8 MiB limit") || strings.Contains(err.Error(), "EOF") {
		t.Errorf("error %q does not name the limit, or reads as a cut body", err)
	}
	id := c.submit(t, JobSpec{NumNodes: 1, Run: "true # " + strings.Repeat("x", api.MaxTaskBytes-1024)})
	c.waitStatus(t, id, StatusSucceeded)
}

// A job just under api.MaxTaskBytes runs on every node: what the head adds when it hands a rank to a worker
// (the script's prologue, the SKYPILOT_* variables) fits in the agent's headroom.
func TestJobAtTheLimitRunsOnWorkers(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "limits2", []nodeOpts{{cpus: 1}, {cpus: 1}})
	id := c.submit(t, JobSpec{NumNodes: 2, DemandPerNode: Demand{CPUs: 1}, Run: "true # " + strings.Repeat("x", api.MaxTaskBytes-300)})
	c.waitStatus(t, id, StatusSucceeded)
}
