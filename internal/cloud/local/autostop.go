package local

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/cloud"
)

// Autostop on local clusters: every node's agent ends its jobs and exits; the node directories stay, so the
// cluster is STOPPED and `stix start` starts the agents again. Autodown: the same, and the client removes the
// directories when it next looks at the cluster (`stix status -r`).

var _ cloud.SelfStopper = (*Provider)(nil)

// SelfStopExit says that a local node ends with its agent.
func (p *Provider) SelfStopExit() cloud.NodeExit { return cloud.ExitAgent }

// SelfStopped reads the head agent's autostop mark.
func (p *Provider) SelfStopped(_ context.Context, info *cloud.ClusterInfo) (cloud.SelfStopMark, error) {
	head, ok := info.Head()
	if !ok || !filepath.IsAbs(head.AgentDir) {
		return cloud.SelfStopNone, fmt.Errorf("local cluster: no head agent directory recorded")
	}
	return selfStopMark(head.AgentDir), nil
}

// selfStopMark reads the autostop mark in the agent directory dir.
func selfStopMark(dir string) cloud.SelfStopMark {
	return cloud.ParseSelfStopMark(readTrimmed(filepath.Join(dir, agent.AutostopMarkFile)))
}
