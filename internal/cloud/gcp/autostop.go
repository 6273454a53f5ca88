package gcp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
)

// Autostop on GCP with no credentials on the head: when the cluster has been idle long enough, every node's agent
// powers its VM off (cloud.ExitPoweroff), and Compute Engine stops it (TERMINATED, its disk kept), as it does any
// guest shutdown. Autodown is finished by the client: `status -r` finds the head stopped, and since
// PrepareSelfStop recorded autodown, SelfStopped says "down" and the cluster is deleted.

// SelfStopExit says that a node ends by powering its VM off.
func (p *Provider) SelfStopExit() cloud.NodeExit { return cloud.ExitPoweroff }

// PrepareSelfStop records whether autostop is an autodown: Compute Engine stops a VM that powers itself off
// either way, and the client deletes it when it sees that.
func (p *Provider) PrepareSelfStop(_ context.Context, ref cloud.ClusterRef, down bool) error {
	s, err := vm.Known[state](p.m, ref.Name)
	if err != nil {
		return err
	}
	if s.Spot && !down {
		return cloud.SpotAutostopError(Name, "")
	}
	s.Autodown = down
	return p.m.WriteState(ref.Name, s)
}

// SelfStopped says how the cluster's head ended, from Compute Engine's view of it: stopped, and "down" when
// autodown was set. A running head, or a cluster stix has no record of, says nothing.
func (p *Provider) SelfStopped(ctx context.Context, info *cloud.ClusterInfo) (cloud.SelfStopMark, error) {
	var h handle
	if info == nil || json.Unmarshal(info.Handle, &h) != nil || h.Cluster == "" {
		return cloud.SelfStopNone, fmt.Errorf("gcp cluster: the record names no cluster")
	}
	s, err := vm.Load[state](p.m, h.Cluster)
	if err != nil || s == nil || len(s.Instances) == 0 {
		return cloud.SelfStopNone, err
	}
	a, err := p.client()
	if err != nil {
		return cloud.SelfStopNone, err
	}
	place := cloud.Place{Cloud: Name, Region: s.Region, Zone: s.Zone}
	var in instance
	if err := a.do(ctx, http.MethodGet, "zones/"+s.Zone+"/instances/"+s.Instances[0], nil, nil, &in); err != nil {
		return cloud.SelfStopNone, classify("get instance "+s.Instances[0], place, err)
	}
	return cloud.RecordedMark(in.Status == "TERMINATED" || in.Status == "STOPPED", s.Autodown), nil
}
