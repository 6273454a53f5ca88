package do

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
)

// Autostop on DigitalOcean: a droplet that powers itself off is still billed, and autodown must delete it, which
// only the API does; so the head ends the cluster through DigitalOcean's API, as SkyPilot's does with the user's
// token. Each time autostop is set, the client records what it asks (PrepareSelfStop: stop or down, for
// SelfStopped) and hands the head the matching requests (SelfStopRequests): powering the cluster's droplets off, by its tag, for
// autostop; deleting them, by its tag, and its firewall for autodown. The requests carry the token, kept
// owner-only on the head (cloud.ExitRequest). `status -r` then finds the droplets off (STOPPED; `stix start`
// powers them on) or gone (the cluster is forgotten).

var (
	_ cloud.SelfStopper       = (*Provider)(nil)
	_ cloud.SelfStopPreparer  = (*Provider)(nil)
	_ cloud.SelfStopRequester = (*Provider)(nil)
)

// SelfStopExit says that the head ends the cluster with the requests of SelfStopRequests.
func (p *Provider) SelfStopExit() cloud.NodeExit { return cloud.ExitRequest }

// PrepareSelfStop records whether autostop stops the cluster or tears it down, for SelfStopRequests (called
// next) and SelfStopped.
func (p *Provider) PrepareSelfStop(_ context.Context, ref cloud.ClusterRef, down bool) error {
	s, err := vm.Known[state](p.m, ref.Name)
	if err != nil {
		return err
	}
	s.Autodown = down
	return p.m.WriteState(ref.Name, s)
}

// SelfStopRequests are the calls that end the cluster, with the token: power_off of the droplets carrying the
// cluster's tag, or, for autodown (down), their deletion (each with its volume, when it has one) and the
// firewall's.
func (p *Provider) SelfStopRequests(_ context.Context, ref cloud.ClusterRef, down bool) ([]cloud.HTTPRequest, error) {
	s, err := vm.Known[state](p.m, ref.Name)
	if err != nil {
		return nil, err
	}
	c, err := newClient()
	if err != nil {
		return nil, err
	}
	tag := url.QueryEscape(clusterTag(ref.Name))
	if !down {
		r, err := c.Request(http.MethodPost, "/droplets/actions?tag_name="+tag, map[string]string{"type": "power_off"})
		if err != nil {
			return nil, err
		}
		return []cloud.HTTPRequest{r}, nil
	}
	out := []cloud.HTTPRequest{}
	// A droplet with a volume goes with it in one call (as SkyPilot's autodown deletes a DO node with its
	// volumes): once the droplet is gone the head could not wait for DigitalOcean to detach the volume.
	for i, id := range s.DropletIDs {
		if i >= len(s.VolumeIDs) {
			break
		}
		r, err := c.Request(http.MethodDelete, "/droplets/"+strconv.Itoa(id)+"/destroy_with_associated_resources/selective",
			map[string][]string{"volumes": {s.VolumeIDs[i]}})
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	r, err := c.Request(http.MethodDelete, "/droplets?tag_name="+tag, nil)
	if err != nil {
		return nil, err
	}
	out = append(out, r)
	if s.FirewallID != "" {
		if r, err = c.Request(http.MethodDelete, "/firewalls/"+url.PathEscape(s.FirewallID), nil); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// SelfStopped says how the cluster's head ended, from DigitalOcean's view of it: powered off (stop, or down
// when autodown was set and the delete did not happen). A running head, one that is gone, or a cluster stix has
// no record of, says nothing.
func (p *Provider) SelfStopped(ctx context.Context, info *cloud.ClusterInfo) (cloud.SelfStopMark, error) {
	var h handle
	if info == nil || json.Unmarshal(info.Handle, &h) != nil || h.Cluster == "" {
		return cloud.SelfStopNone, fmt.Errorf("DO cluster: the record names no cluster")
	}
	s, err := vm.Load[state](p.m, h.Cluster)
	if err != nil || s == nil || len(s.DropletIDs) == 0 {
		return cloud.SelfStopNone, err
	}
	c, err := newClient()
	if err != nil {
		return cloud.SelfStopNone, err
	}
	tagged, err := c.tagged(ctx, clusterTag(h.Cluster))
	if err != nil {
		return cloud.SelfStopNone, classify("list droplets", cloud.Place{Cloud: Name}, err)
	}
	return cloud.RecordedMark(byID(tagged, s.DropletIDs[:1])[0].Status == "off", s.Autodown), nil
}
