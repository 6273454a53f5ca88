package docker

import (
	"context"
	"fmt"
	"strconv"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/dockerapi"
)

var _ cloud.NodeWatcher = (*Provider)(nil)

// WatchNodes follows the engine's events of the cluster's containers: "die" is a node stopped (killed, crashed,
// stopped), "destroy" a node gone. "kill" is not a loss by itself (a signal the container may survive); a
// fatal one is followed by "die" within milliseconds.
func (p *Provider) WatchNodes(ctx context.Context, ref cloud.ClusterRef) (<-chan cloud.NodeEvent, error) {
	cli, err := p.client()
	if err != nil {
		return nil, err
	}
	evs, err := cli.Events(ctx, dockerapi.EventFilter{Labels: []string{LabelCluster + "=" + ref.Name, LabelHome + "=" + p.ns},
		Actions: []string{"die", "destroy"}})
	if err != nil {
		return nil, err
	}
	// What died before the stream was subscribed, Query tells.
	states, err := p.Query(ctx, ref)
	if err != nil {
		return nil, err
	}
	out := make(chan cloud.NodeEvent, len(states)+1)
	for _, st := range states {
		if st.Status == cloud.NodeStopped || st.Status == cloud.NodeMissing {
			out <- cloud.NodeEvent{NodeState: st}
		}
	}
	go func() {
		defer close(out)
		for ev := range evs {
			rank, err := strconv.Atoi(ev.Attributes[LabelRank])
			if err != nil {
				continue
			}
			st := cloud.NodeState{Rank: rank, Status: cloud.NodeMissing, Reason: "container " + ev.Attributes["name"] + " was removed"}
			if ev.Action == "die" {
				st.Status, st.Reason = cloud.NodeStopped, fmt.Sprintf("container %s died (exit code %s)", ev.Attributes["name"], ev.Attributes["exitCode"])
			}
			select {
			case out <- cloud.NodeEvent{NodeState: st, At: ev.Time}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
