package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cloud"
)

// WatchCluster follows a cluster's nodes through its provider's cloud.NodeWatcher; infra without one answers
// an error wrapping errors.ErrUnsupported, and its callers keep to what they did before (streams, probes).
func (m *Manager) WatchCluster(ctx context.Context, name string) (<-chan api.ClusterEvent, error) {
	rec, err := m.record(ctx, name)
	if err != nil {
		return nil, err
	}
	p, err := m.provider(rec)
	if err != nil {
		return nil, err
	}
	w, ok := p.(cloud.NodeWatcher)
	if !ok {
		return nil, fmt.Errorf("%s infra does not report its nodes' events: %w", rec.Cloud, errors.ErrUnsupported)
	}
	ci, err := info(rec)
	if err != nil {
		return nil, err
	}
	evs, err := w.WatchNodes(ctx, cloud.ClusterRef{Name: name, Handle: ci.Handle})
	if err != nil {
		return nil, fmt.Errorf("watch the nodes of %s: %w", name, err)
	}
	out := make(chan api.ClusterEvent, 8)
	go func() {
		defer close(out)
		for ev := range evs {
			status := api.NodeMissing
			if ev.Status == cloud.NodeStopped {
				status = api.NodeStopped
			}
			select {
			case out <- api.ClusterEvent{Cluster: name, Rank: ev.Rank, Status: status, Reason: ev.Reason, At: ev.At}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
