package sshpool

import (
	"context"
	"encoding/json"
	"fmt"
	"path"

	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/cloud"
)

// Autostop on SSH node pools: every host's agent ends its jobs and exits; the hosts stay claimed by the cluster,
// so it is STOPPED and `stix start` starts the agents again. Autodown: the same, and the client tears the
// cluster down when it next looks at it (`stix status -r`): it removes the cluster's files on the hosts and
// releases them, since the claims live in this machine's state (state.json), which no host can change.

var _ cloud.SelfStopper = (*Provider)(nil)

// SelfStopExit says that a host ends with its agent.
func (p *Provider) SelfStopExit() cloud.NodeExit { return cloud.ExitAgent }

// SelfStopped reads the head host's autostop mark.
func (p *Provider) SelfStopped(ctx context.Context, info *cloud.ClusterInfo) (cloud.SelfStopMark, error) {
	var h handle
	if info == nil || json.Unmarshal(info.Handle, &h) != nil || !namePattern.MatchString(h.Cluster) {
		return cloud.SelfStopNone, fmt.Errorf("ssh cluster: the record names no cluster")
	}
	cs, err := p.cluster(h.Cluster)
	if err != nil {
		return cloud.SelfStopNone, err
	}
	if len(cs.Nodes) == 0 {
		return cloud.SelfStopNone, nil
	}
	head := cs.Nodes[0].Host
	tr, err := p.dial(ctx, cs.Pool, head, p.clusterKnownHosts(h.Cluster))
	if err != nil {
		return cloud.SelfStopNone, err
	}
	defer tr.Close()
	mark := path.Join(tr.Resolve(agentDir(h.Cluster, head)), agent.AutostopMarkFile)
	out, err := output(ctx, tr, "cat "+shellWord(mark)+" 2>/dev/null; true")
	if err != nil {
		return cloud.SelfStopNone, fmt.Errorf("host %s: %w", head.Name, err)
	}
	return cloud.ParseSelfStopMark(out), nil
}
