package agent

import (
	"errors"
	"strings"
	"testing"

	"github.com/stix-run/stix/api"
)

// A job spec over api.MaxTaskBytes is refused whole with HTTP 413 and the limit in the message, never cut short
// into an "unexpected EOF"; one just under the limit is accepted.
func TestSubmitOverLimitIsRefused(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "limits", []nodeOpts{{cpus: 2}})
	_, err := c.head.Submit(ctxT(t), JobSpec{NumNodes: 1, Run: "true", Envs: map[string]string{"BIG": strings.Repeat("x", api.MaxTaskBytes)}})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("submit over the limit: %v, want ErrTooLarge (HTTP 413)", err)
	}
	if !strings.Contains(err.Error(), "8 MiB limit") || strings.Contains(err.Error(), "EOF") {
		t.Errorf("error %q does not name the limit, or reads as a cut body", err)
	}
	id := c.submit(t, JobSpec{NumNodes: 1, Run: "true # " + strings.Repeat("x", api.MaxTaskBytes-1024)})
	c.waitStatus(t, id, StatusSucceeded)
}
