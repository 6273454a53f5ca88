package cluster

import (
	"context"
	"errors"
	"sync"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/transport"
)

// forEachNode runs fn for every node of a cluster at once and returns all their errors joined. The first
// failure cancels the others' context.
func forEachNode(ctx context.Context, ci *cloud.ClusterInfo, fn func(ctx context.Context, rank int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(ci.Nodes))
	var wg sync.WaitGroup
	for i, n := range ci.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = fn(ctx, n.Rank); errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// transportSyncOptions are SkyPilot's rules: the workdir honours .skyignore/.gitignore and mirrors deletions;
// a file mount is copied as it is.
func transportSyncOptions(workdir bool) transport.SyncOptions {
	return transport.SyncOptions{Delete: workdir, Ignore: workdir}
}
