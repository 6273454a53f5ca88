package docker

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"

	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/dockerapi"
)

// Autostop on Docker: every node's agent ends its jobs and then its container, by signalling the container's
// init (docker-init runs `sleep infinity` as the container's main process; both end, and the container stops).
// The cluster is STOPPED and `stix start` starts the containers and agents again. Autodown: the same, and the
// client removes the containers, the network and the cluster's CA when it next looks at the cluster
// (`stix status -r`): a container cannot remove itself, and the nodes have no access to the engine.

var _ cloud.SelfStopper = (*Provider)(nil)

// SelfStopExit says that a node ends with its container.
func (p *Provider) SelfStopExit() cloud.NodeExit { return cloud.ExitContainer }

// maxMark bounds what SelfStopped reads of a mark file.
const maxMark = 1 << 10

// SelfStopped reads the head container's autostop mark; the container may be stopped.
func (p *Provider) SelfStopped(ctx context.Context, info *cloud.ClusterInfo) (cloud.SelfStopMark, error) {
	cli, err := p.client()
	if err != nil {
		return cloud.SelfStopNone, err
	}
	var h handle
	head, ok := info.Head()
	if !ok || json.Unmarshal(info.Handle, &h) != nil || len(h.Containers) == 0 || !path.IsAbs(head.AgentDir) {
		return cloud.SelfStopNone, fmt.Errorf("docker: the cluster's record names no head container")
	}
	rc, err := cli.CopyFromContainer(ctx, h.Containers[0], path.Join(head.AgentDir, agent.AutostopMarkFile))
	if dockerapi.IsNotFound(err) {
		return cloud.SelfStopNone, nil
	}
	if err != nil {
		return cloud.SelfStopNone, fmt.Errorf("docker: read the autostop mark of %s: %w", h.Containers[0], err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	if _, err := tr.Next(); err != nil {
		return cloud.SelfStopNone, fmt.Errorf("docker: read the autostop mark of %s: %w", h.Containers[0], err)
	}
	b, err := io.ReadAll(io.LimitReader(tr, maxMark))
	if err != nil {
		return cloud.SelfStopNone, fmt.Errorf("docker: read the autostop mark of %s: %w", h.Containers[0], err)
	}
	return cloud.ParseSelfStopMark(string(b)), nil
}
