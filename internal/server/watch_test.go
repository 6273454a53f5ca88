package server_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
)

// A cluster's node events cross the HTTP seam as the core sent them, and the stream ends with the core's;
// infra that cannot watch, and a cluster that does not exist, are the typed errors the core returned.
func TestWatchCluster(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC)
	want := []api.ClusterEvent{
		{Cluster: "dev", Rank: 1, Status: api.NodeStopped, Reason: "container stix-x-dev-1 died (exit code 137)", At: at},
		{Cluster: "dev", Rank: 0, Status: api.NodeMissing, Reason: "container stix-x-dev-0 was removed"},
	}
	c := newCore()
	c.WatchFunc = func(cluster string) ([]api.ClusterEvent, error) {
		switch cluster {
		case "dev":
			return want, nil
		case "local":
			return nil, fmt.Errorf("local infra does not report its nodes' events: %w", errors.ErrUnsupported)
		}
		return nil, &api.ClusterNotFoundError{Name: cluster}
	}
	c.StatusFunc = func([]string, bool) ([]api.Cluster, error) {
		return []api.Cluster{{Name: "dev", Status: api.ClusterUp, User: "ada"}, {Name: "local", Status: api.ClusterUp, User: "ada"}}, nil
	}
	_, hc, _ := start(t, t.TempDir(), c)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	evs, err := hc.WatchCluster(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	var got []api.ClusterEvent
	for ev := range evs {
		got = append(got, ev)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events %+v, want %+v", got, want)
	}
	if _, err := hc.WatchCluster(ctx, "local"); !errors.Is(err, errors.ErrUnsupported) || err.Error() != "local infra does not report its nodes' events: unsupported operation" {
		t.Errorf("watch on infra that cannot: %v, want errors.ErrUnsupported", err)
	}
	var nf *api.ClusterNotFoundError
	if _, err := hc.WatchCluster(ctx, "nope"); !errors.As(err, &nf) || nf.Name != "nope" {
		t.Errorf("watch of no cluster: %v", err)
	}
}
