package server

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli/fakeclient"
)

// The fleet's counts are taken again only once fleetTTL has passed; a failed listing keeps the last counts.
func TestFleetCache(t *testing.T) {
	t.Parallel()
	calls := 0
	var fail error
	clusters := []api.Cluster{{Name: "a", Status: api.ClusterStopped}}
	core := &fakeclient.Client{StatusFunc: func([]string, bool) ([]api.Cluster, error) {
		calls++
		return clusters, fail
	}}
	now := time.Unix(1_000_000, 0)
	f := &fleet{ctx: context.Background(), log: slog.New(slog.DiscardHandler), client: core, now: func() time.Time { return now }}

	stopped := func() int { c, _, _ := f.counts(); return c[string(api.ClusterStopped)] }
	if n := stopped(); n != 1 || calls != 1 {
		t.Fatalf("first count: %d stopped after %d listings", n, calls)
	}
	clusters = append(clusters, api.Cluster{Name: "b", Status: api.ClusterStopped})
	now = now.Add(fleetTTL - time.Nanosecond)
	if n := stopped(); n != 1 || calls != 1 {
		t.Errorf("within the TTL: %d stopped after %d listings, want the cached 1 after 1", n, calls)
	}
	now = now.Add(time.Nanosecond)
	if n := stopped(); n != 2 || calls != 2 {
		t.Errorf("at the TTL: %d stopped after %d listings, want 2 after 2", n, calls)
	}
	fail = errors.New("the state database is locked")
	now = now.Add(fleetTTL)
	if n := stopped(); n != 2 || calls != 3 {
		t.Errorf("a failed listing: %d stopped after %d listings, want the last counts (2) after 3", n, calls)
	}
}
