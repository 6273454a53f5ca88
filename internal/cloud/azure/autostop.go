package azure

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
)

// Autostop on Azure: a VM that powers itself off is still allocated and billed; only Resource Manager's
// deallocate (stop) or delete ends that. So the head ends the cluster through Resource Manager with a token for
// the cluster's managed identity (identity.go), which it gets from the instance metadata service: nothing of the
// user's credentials goes to the cluster. Each time autostop is set, the client records what it asks
// (PrepareSelfStop: stop or down, for SelfStopped) and hands the head the matching requests (SelfStopRequests):
// deallocating every VM for autostop; for autodown, deleting the cluster's resource group, or, in a shared group
// (azure.resource_group_vm), its VMs. `status -r` then finds the VMs deallocated (STOPPED; `stix start` starts
// them) or gone, and deletes what is left of the cluster (its interfaces, addresses, network, identity).

var (
	_ cloud.SelfStopper       = (*Provider)(nil)
	_ cloud.SelfStopPreparer  = (*Provider)(nil)
	_ cloud.SelfStopRequester = (*Provider)(nil)
)

// SelfStopExit says that the head ends the cluster with the requests of SelfStopRequests.
func (p *Provider) SelfStopExit() cloud.NodeExit { return cloud.ExitRequest }

// withIdentity is the cluster's state, refusing a cluster that has no managed identity (launched before stix
// made one) or, for a plain autostop, Spot VMs (which are deleted when evicted, and not stopped).
func (p *Provider) withIdentity(name string, down bool) (*state, error) {
	s, err := vm.Known[state](p.m, name)
	if err != nil {
		return nil, err
	}
	if s.IdentityClientID == "" {
		return nil, &cloud.UnsupportedError{Cloud: Name, Operation: "autostop of cluster " + name + ", launched before stix " +
			"gave Azure clusters a managed identity", Hint: "run `stix down " + name + "` and launch it again"}
	}
	if s.Spot && !down {
		return nil, cloud.SpotAutostopError(Name, "Spot VMs are deleted, not stopped")
	}
	return s, nil
}

// PrepareSelfStop records whether autostop stops the cluster or tears it down, for SelfStopRequests (called
// next) and SelfStopped.
func (p *Provider) PrepareSelfStop(_ context.Context, ref cloud.ClusterRef, down bool) error {
	s, err := p.withIdentity(ref.Name, down)
	if err != nil {
		return err
	}
	s.Autodown = down
	return p.m.WriteState(ref.Name, s)
}

// SelfStopRequests are the calls that end the cluster, each with a token the head gets for the cluster's
// identity: deallocate of every VM, or, for autodown (down), the deletion of the cluster's resource group (of
// its VMs in a shared group). The workers' VMs come first, the head's last: its own request ends it.
func (p *Provider) SelfStopRequests(_ context.Context, ref cloud.ClusterRef, down bool) ([]cloud.HTTPRequest, error) {
	s, err := p.withIdentity(ref.Name, down)
	if err != nil {
		return nil, err
	}
	c, err := p.client()
	if err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(c.raw.Endpoint(), "/")
	q := url.Values{"api-version": {imdsAPI}, "resource": {c.audience}, "client_id": {s.IdentityClientID}}
	token := vm.First(p.opts.Env.Var(IMDSEnv), imdsToken) + "?" + q.Encode()
	req := func(method, path, api string) cloud.HTTPRequest {
		return cloud.HTTPRequest{Method: method, URL: base + path + "?api-version=" + api, TokenURL: token, RootCAs: c.rootCAs}
	}
	if down && s.OwnGroup {
		return []cloud.HTTPRequest{req(http.MethodDelete, groupPath(s.Subscription, s.Group), groupAPI)}, nil
	}
	var out []cloud.HTTPRequest
	for i := len(s.VMs) - 1; i >= 0; i-- {
		path := groupPath(s.Subscription, s.Group) + "/providers/Microsoft.Compute/virtualMachines/" + url.PathEscape(s.VMs[i])
		if down {
			out = append(out, req(http.MethodDelete, path, computeAPI))
		} else {
			out = append(out, req(http.MethodPost, path+"/deallocate", computeAPI))
		}
	}
	return out, nil
}

// SelfStopped says how the cluster's head ended, from Azure's view of it: deallocated (stop, or down when
// autodown was set). A running head, one that is gone (Query deletes what is left of such a cluster), or a
// cluster stix has no record of, says nothing.
func (p *Provider) SelfStopped(ctx context.Context, info *cloud.ClusterInfo) (cloud.SelfStopMark, error) {
	var h handle
	if info == nil || json.Unmarshal(info.Handle, &h) != nil || h.Cluster == "" {
		return cloud.SelfStopNone, fmt.Errorf("azure cluster: the record names no cluster")
	}
	s, err := vm.Load[state](p.m, h.Cluster)
	if err != nil || s == nil || len(s.VMs) == 0 {
		return cloud.SelfStopNone, err
	}
	c, err := p.client()
	if err != nil {
		return cloud.SelfStopNone, err
	}
	ps, err := p.powerState(ctx, c, cloud.Place{Cloud: Name, Region: s.Region}, s.Group, s.VMs[0])
	if err != nil {
		return cloud.SelfStopNone, err
	}
	return cloud.RecordedMark(ps == "deallocated", s.Autodown), nil
}
