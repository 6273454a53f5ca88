package kubernetes

import (
	"context"
	"fmt"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/kubeapi"
)

// Autostop on Kubernetes: every node's agent ends its jobs and then its container, by signalling the
// container's main process, which leaves the head's autostop mark as the container's termination message
// (containerScript). The pods end (restartPolicy Never) and Query reports them stopped; the client reads the
// mark from the head pod's status and, for autodown, deletes the cluster. Pods cannot be started again
// (no cloud.Stopper, as in SkyPilot), so a plain autostop leaves a cluster only `stix down` removes.

var _ cloud.SelfStopper = (*Provider)(nil)

// SelfStopExit says that a node ends with its container.
func (p *Provider) SelfStopExit() cloud.NodeExit { return cloud.ExitContainer }

// SelfStopped reads the head pod's autostop mark from its container's termination message.
func (p *Provider) SelfStopped(ctx context.Context, info *cloud.ClusterInfo) (cloud.SelfStopMark, error) {
	h, err := p.parseHandle(cloud.ClusterRef{Handle: info.Handle})
	if err != nil || len(h.Pods) == 0 {
		return cloud.SelfStopNone, fmt.Errorf("kubernetes: the cluster's record names no head pod")
	}
	cli, err := p.client(h.Context)
	if err != nil {
		return cloud.SelfStopNone, err
	}
	var pd pod
	err = cli.Get(ctx, kubeapi.NSPath(h.Namespace, "pods", h.Pods[0]), &pd)
	if kubeapi.IsNotFound(err) {
		return cloud.SelfStopNone, nil
	}
	if err != nil {
		return cloud.SelfStopNone, fmt.Errorf("kubernetes: read pod %s: %w", h.Pods[0], err)
	}
	for _, cs := range pd.Status.ContainerStatuses {
		if cs.Name == containerName && cs.State.Terminated != nil {
			return cloud.ParseSelfStopMark(cs.State.Terminated.Message), nil
		}
	}
	return cloud.SelfStopNone, nil
}
