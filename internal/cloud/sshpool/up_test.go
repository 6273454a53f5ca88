package sshpool

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// When a host's agents cannot be stopped, ssh down removes no host's files (hosts may share a home, and a
// running agent's directory must not go) and reports the failure on every host.
func TestDownRemovesNothingWhenAStopFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 2, nil)
	ctx := testContext(t)
	f.up(t, ctx)
	// Host 1 has an agent directory and no agent binary to stop it with: its stop fails.
	bad := f.hosts[1].Home
	agentDir := filepath.Join(bad, ".stix", "clusters", "lost", "agent")
	if err := os.MkdirAll(agentDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(bad, ".stix", "bin")); err != nil {
		t.Fatal(err)
	}

	res, err := f.p.Down(ctx, "pool", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || !Failed(res) {
		t.Fatalf("Down = %+v; want both hosts reported, as failed", res)
	}
	if !strings.Contains(res[1].Err.Error(), "no stix-agent") {
		t.Errorf("host 1: %v; want its stop error", res[1].Err)
	}
	if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "not removed") {
		t.Errorf("host 0: %v; want it to say its files were not removed", res[0].Err)
	}
	if _, err := os.Stat(filepath.Join(f.hosts[0].Home, ".stix", "bin")); err != nil {
		t.Errorf("host 0's ~/.stix/bin after a failed ssh down: %v", err)
	}
	if _, err := os.Stat(agentDir); err != nil {
		t.Errorf("host 1's agent directory after a failed ssh down: %v", err)
	}

	// Once the host can stop its agents again, ssh down cleans both.
	if err := os.Remove(agentDir); err != nil {
		t.Fatal(err)
	}
	res, err = f.p.Down(ctx, "pool", nil)
	if err != nil || Failed(res) {
		t.Fatalf("second Down: %+v, %v", res, err)
	}
	for _, h := range f.hosts {
		if _, err := os.Stat(filepath.Join(h.Home, ".stix")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("host %s: ~/.stix after ssh down: %v", h.Host, err)
		}
	}
}
