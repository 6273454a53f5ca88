package paperspace

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/stix-run/stix/internal/cloud"
)

// Autostop on Paperspace: a machine powered off from inside is not stopped for Paperspace's billing, so the
// head stops or deletes its cluster's machines through Paperspace's API, with the API key the client gives it
// (cloud.ExitRequest, as Lambda's and RunPod's heads do; the requests are kept owner-only on the head): when
// the cluster has been idle long enough, the head agent ends its jobs and workers, then sends
// PATCH /machines/{id}/stop for each machine (autostop; `stix start` brings them back) or DELETE /machines/{id}
// (autodown; `status -r` then finds them gone, forgets the cluster and deletes its network). The workers' come
// first, the head's own last.

var (
	_ cloud.SelfStopper       = (*Provider)(nil)
	_ cloud.SelfStopRequester = (*Provider)(nil)
)

// SelfStopExit says that the head ends the cluster with the requests of SelfStopRequests.
func (p *Provider) SelfStopExit() cloud.NodeExit { return cloud.ExitRequest }

// SelfStopped says nothing: Query finds the machines off (autostop) or gone (autodown).
func (p *Provider) SelfStopped(context.Context, *cloud.ClusterInfo) (cloud.SelfStopMark, error) {
	return cloud.SelfStopNone, nil
}

// SelfStopRequests are Paperspace's calls that stop (or, for down, delete) every machine of the cluster, with the
// API key, the head's last.
func (p *Provider) SelfStopRequests(_ context.Context, ref cloud.ClusterRef, down bool) ([]cloud.HTTPRequest, error) {
	ids, _, err := p.locate(ref)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("paperspace cluster %s: stix knows none of its machines", ref.Name)
	}
	c, err := newClient()
	if err != nil {
		return nil, err
	}
	var out []cloud.HTTPRequest
	for _, id := range slices.Backward(ids) {
		method, path := http.MethodPatch, "/machines/"+url.PathEscape(id)+"/stop"
		if down {
			method, path = http.MethodDelete, "/machines/"+url.PathEscape(id)
		}
		r, err := c.Request(method, path, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
