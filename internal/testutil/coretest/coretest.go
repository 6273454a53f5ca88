// Package coretest wraps the real core (embedded.Client) for controller tests that need one of its calls to
// behave as a slow or far-away core would.
package coretest

import (
	"context"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/embedded"
)

// SlowDown is the real core, except that tearing a cluster down lasts at least Hold longer (as terminating cloud
// instances does): each Down of Cluster ("" for every cluster) goes through only after Hold has passed, or fails
// with the context's error if the caller gives up first.
type SlowDown struct {
	*embedded.Client
	Cluster string
	Hold    time.Duration
}

// Down tears name down after the hold.
func (s *SlowDown) Down(ctx context.Context, name string, purge bool) (*api.Operation[api.Done], error) {
	if s.Cluster == "" || name == s.Cluster {
		select {
		case <-time.After(s.Hold):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.Client.Down(ctx, name, purge)
}
