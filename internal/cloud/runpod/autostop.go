package runpod

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/stix-run/stix/internal/cloud"
)

// Autodown on RunPod: a pod cannot end itself, and a stopped pod is no cluster stix can start again (no
// cloud.Stopper), so the head deletes the cluster's pods through RunPod's API, as SkyPilot's does with the user's
// key: when the cluster has been idle long enough, the head agent ends its jobs and workers and then sends the
// DELETE /pods/{id} requests the client gave it (cloud.ExitRequest; they carry the API key, kept owner-only on
// the head). `status -r` then finds the pods gone and forgets the cluster. Plain autostop is refused.

var (
	_ cloud.SelfStopper       = (*Provider)(nil)
	_ cloud.SelfStopRequester = (*Provider)(nil)
)

// SelfStopExit says that the head ends the cluster with the requests of SelfStopRequests.
func (p *Provider) SelfStopExit() cloud.NodeExit { return cloud.ExitRequest }

// SelfStopped says nothing: a cluster that ended itself is deleted, and Query finds it gone.
func (p *Provider) SelfStopped(context.Context, *cloud.ClusterInfo) (cloud.SelfStopMark, error) {
	return cloud.SelfStopNone, nil
}

// SelfStopRequests are RunPod's delete calls for the cluster's pods, with the API key.
func (p *Provider) SelfStopRequests(_ context.Context, ref cloud.ClusterRef, _ bool) ([]cloud.HTTPRequest, error) {
	ids, _, err := p.locate(ref)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("runpod cluster %s: stix knows none of its pods", ref.Name)
	}
	c, err := newClient()
	if err != nil {
		return nil, err
	}
	var out []cloud.HTTPRequest
	for _, id := range ids {
		r, err := c.Request(http.MethodDelete, "/pods/"+url.PathEscape(id), nil)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
