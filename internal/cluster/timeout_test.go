package cluster

import (
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/agent/envknob"
)

// TestNewRejectsBadAgentTimeout: STIX_AGENT_TIMEOUT is read once, as the manager is made, so that a bad value
// fails a command before it changes anything, saying what is wrong. Not parallel: it sets the environment.
func TestNewRejectsBadAgentTimeout(t *testing.T) {
	t.Setenv(envknob.AgentTimeout.Name, "bogus")
	_, err := New(Options{Home: t.TempDir()})
	want := `environment variable STIX_AGENT_TIMEOUT="bogus": want a positive duration such as 100ms or 1m`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("New with a bad timeout: err = %v, want %q", err, want)
	}

	t.Setenv(envknob.AgentTimeout.Name, "250ms")
	m, err := New(Options{Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.agentTimeout != 250*time.Millisecond {
		t.Errorf("agent timeout = %s, want 250ms", m.agentTimeout)
	}
}
