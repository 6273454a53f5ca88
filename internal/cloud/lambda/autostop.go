package lambda

import (
	"context"
	"fmt"
	"net/http"

	"github.com/stix-run/stix/internal/cloud"
)

// Autodown on Lambda: Lambda cannot stop an instance, and one that powers itself off is still billed, so the
// head ends the cluster through Lambda's API, as SkyPilot's does with the user's key: when the cluster has been
// idle long enough, the head agent ends its jobs and workers and then sends the terminate request the client
// gave it (cloud.ExitRequest; the request carries the API key, kept owner-only on the head). `status -r` then
// finds the instances terminated and forgets the cluster. Plain autostop is refused: Lambda is no cloud.Stopper.

var (
	_ cloud.SelfStopper       = (*Provider)(nil)
	_ cloud.SelfStopRequester = (*Provider)(nil)
)

// SelfStopExit says that the head ends the cluster with the request of SelfStopRequests.
func (p *Provider) SelfStopExit() cloud.NodeExit { return cloud.ExitRequest }

// SelfStopped says nothing: a cluster that ended itself is terminated, and Query finds it gone.
func (p *Provider) SelfStopped(context.Context, *cloud.ClusterInfo) (cloud.SelfStopMark, error) {
	return cloud.SelfStopNone, nil
}

// SelfStopRequests is Lambda's terminate call for every instance of the cluster, with the API key.
func (p *Provider) SelfStopRequests(_ context.Context, ref cloud.ClusterRef, _ bool) ([]cloud.HTTPRequest, error) {
	ids, _, err := p.locate(ref)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("lambda cluster %s: stix knows none of its instances", ref.Name)
	}
	c, err := newClient()
	if err != nil {
		return nil, err
	}
	r, err := c.Request(http.MethodPost, "/instance-operations/terminate", map[string]any{"instance_ids": ids})
	if err != nil {
		return nil, err
	}
	return []cloud.HTTPRequest{r}, nil
}
