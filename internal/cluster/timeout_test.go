package cluster

import (
	"context"
	"errors"
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

// TestStoreOpenNotKeptWhenCancelled: the state store is opened on first use; a first call whose context is
// already cancelled fails, and the next call, with a live context, opens it (issue 12: one cancelled launch left
// every later call, the teardown's included, failing with "open stix state: … context canceled").
func TestStoreOpenNotKeptWhenCancelled(t *testing.T) {
	m, err := New(Options{Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Status(cancelled, nil, false); !errors.Is(err, context.Canceled) {
		t.Fatalf("status with a cancelled context: %v, want context canceled", err)
	}
	if cs, err := m.Status(context.Background(), nil, false); err != nil || len(cs) != 0 {
		t.Fatalf("status after a cancelled first call: %+v, %v; want no clusters", cs, err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Status(context.Background(), nil, false); err == nil {
		t.Fatal("status after Close: no error")
	}
}
