package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/stix-run/stix/api"
)

// nodeLostError ends a task's log stream when its cluster's provider reports a node gone.
type nodeLostError struct{ ev api.ClusterEvent }

func (e *nodeLostError) Error() string {
	return fmt.Sprintf("node %d of cluster %s is %s: %s", e.ev.Rank, e.ev.Cluster, e.ev.Status, e.ev.Reason)
}

// followNodes follows a cluster's node events until ctx ends, and ends ctx (through lost) with the first. On
// infra whose provider cannot watch, or when the watch breaks, it gives up quietly: the log stream and the
// head agent still tell a loss, later. The channel is closed when it has returned.
func (r *runner) followNodes(ctx context.Context, cluster string, lost context.CancelCauseFunc) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		evs, err := r.c.opts.Core.WatchCluster(ctx, cluster)
		if err != nil {
			if !errors.Is(err, errors.ErrUnsupported) && ctx.Err() == nil {
				r.logf("watch the nodes of %s: %v; a lost node is seen through the job's stream", cluster, err)
			}
			return
		}
		if ev, ok := <-evs; ok {
			lost(&nodeLostError{ev: ev})
		}
	}()
	return done
}
