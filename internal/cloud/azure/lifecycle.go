package azure

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
	"github.com/stix-run/stix/internal/transport"
)

// located is where a cluster lives and which VMs are its, from stix's state or else the caller's handle.
type located struct {
	state  *state // nil when stix has no state for it
	region string
	group  string
	own    bool
	names  []string
}

func (p *Provider) locate(ref cloud.ClusterRef) (located, error) {
	s, err := vm.Load[state](p.m, ref.Name)
	if err != nil {
		return located{}, err
	}
	if s != nil {
		return located{state: s, region: s.Region, group: s.Group, own: s.OwnGroup, names: s.VMs}, nil
	}
	var h handle
	if len(ref.Handle) > 0 && json.Unmarshal(ref.Handle, &h) == nil && h.Group != "" {
		return located{region: h.Region, group: h.Group, own: h.OwnGroup, names: h.VMs}, nil
	}
	return located{}, nil
}

// powerState is the VM's power state from its instance view ("running", "deallocated", "stopped", "starting",
// ...), "" while it has none yet, and "gone" when Azure does not know it.
func (p *Provider) powerState(ctx context.Context, c *clients, place cloud.Place, group, name string) (string, error) {
	res, err := c.vms.InstanceView(ctx, group, name, nil)
	if isNotFound(err) {
		return "gone", nil
	}
	if err != nil {
		return "", classify("get instance view of "+name, place, err)
	}
	for _, st := range res.Statuses {
		if st != nil && st.Code != nil {
			if s, ok := strings.CutPrefix(*st.Code, "PowerState/"); ok {
				return s, nil
			}
		}
	}
	return "", nil
}

// Query reports Azure's view of each node: running, pending (starting, stopping, deallocating), stopped
// (deallocated or stopped), or missing (deleted: a Spot VM evicted).
func (p *Provider) Query(ctx context.Context, ref cloud.ClusterRef) ([]cloud.NodeState, error) {
	loc, err := p.locate(ref)
	if err != nil || loc.group == "" {
		return nil, err
	}
	c, err := p.client()
	if err != nil {
		return nil, err
	}
	place := cloud.Place{Cloud: Name, Region: loc.region}
	var states []cloud.NodeState
	gone := 0
	for i, n := range loc.names {
		ps, err := p.powerState(ctx, c, place, loc.group, n)
		if err != nil {
			return nil, err
		}
		st := cloud.NodeState{Rank: i}
		switch ps {
		case "running":
			st.Status = cloud.NodeRunning
		case "deallocated", "stopped":
			st.Status, st.Reason = cloud.NodeStopped, "VM "+n+" is "+ps
		case "gone":
			gone++
			st.Status, st.Reason = cloud.NodeMissing, "VM "+n+" does not exist"
			if loc.state != nil && loc.state.Spot {
				st.Reason += ": Spot VM evicted"
			}
		default:
			st.Status, st.Reason = cloud.NodePending, "VM "+n+" is "+vm.First(ps, "being created")
		}
		states = append(states, st)
	}
	// Every VM of the cluster gone (evicted): the caller drops the cluster without Terminate, so what is left
	// (network, group) is deleted now. Best effort: what fails now is tried again at the next Query.
	if gone == len(loc.names) && gone > 0 && loc.state != nil {
		if p.deleteCluster(ctx, c, place, loc.group, loc.own, ref.Name, loc.names) == nil {
			_ = p.m.Forget(ref.Name)
		}
	}
	return states, nil
}

// Stop deallocates the cluster's VMs (their disks kept, compute billing ended). Spot clusters are not stopped.
func (p *Provider) Stop(ctx context.Context, ref cloud.ClusterRef) error {
	loc, err := p.locate(ref)
	if err != nil {
		return err
	}
	if loc.group == "" {
		return p.m.NoRecord(ref.Name)
	}
	if loc.state != nil && loc.state.Spot {
		return &cloud.UnsupportedError{Cloud: Name, Operation: "stop of a spot cluster", Hint: "use `stix down` to delete it"}
	}
	c, err := p.client()
	if err != nil {
		return err
	}
	place := cloud.Place{Cloud: Name, Region: loc.region}
	err = cloud.EachNode(ctx, len(loc.names), func(ctx context.Context, i int) error {
		pl, err := c.vms.BeginDeallocate(ctx, loc.group, loc.names[i], nil)
		_, err = poll(ctx, c, pl, err)
		return classify("deallocate virtual machine "+loc.names[i], place, err)
	})
	if err != nil {
		return fmt.Errorf("stop azure cluster %s: %w", ref.Name, err)
	}
	return nil
}

// Start starts the cluster's deallocated VMs and deploys the agents again.
func (p *Provider) Start(ctx context.Context, ref cloud.ClusterRef) (*cloud.ClusterInfo, error) {
	s, err := vm.Known[state](p.m, ref.Name)
	if err != nil {
		return nil, err
	}
	place := cloud.Place{Cloud: Name, Region: s.Region, Zone: s.Zone}
	if _, err := p.m.Prepare(); err != nil {
		return nil, err
	}
	c, err := p.client()
	if err != nil {
		return nil, err
	}
	err = cloud.EachNode(ctx, len(s.VMs), func(ctx context.Context, i int) error {
		pl, err := c.vms.BeginStart(ctx, s.Group, s.VMs[i], nil)
		_, err = poll(ctx, c, pl, err)
		return classify("start virtual machine "+s.VMs[i], place, err)
	})
	if err != nil {
		return nil, fmt.Errorf("start azure cluster %s: %w", ref.Name, err)
	}
	return p.bringUp(ctx, c, ref.Name, s, nil)
}

// Terminate deletes everything of the cluster (its resource group when stix made it). A cluster that is gone
// already succeeds.
func (p *Provider) Terminate(ctx context.Context, ref cloud.ClusterRef) error {
	loc, err := p.locate(ref)
	if err != nil {
		return err
	}
	if loc.group == "" {
		return p.m.Forget(ref.Name)
	}
	c, err := p.client()
	if err != nil {
		return err
	}
	place := cloud.Place{Cloud: Name, Region: loc.region}
	if err := p.deleteCluster(ctx, c, place, loc.group, loc.own, ref.Name, loc.names); err != nil {
		return fmt.Errorf("terminate azure cluster %s: %w", ref.Name, err)
	}
	return p.m.Forget(ref.Name)
}

// bringUp waits for the VMs to run, reads their addresses, deploys the agent on each over SSH and records the
// nodes.
func (p *Provider) bringUp(ctx context.Context, c *clients, name string, s *state, report func(string)) (*cloud.ClusterInfo, error) {
	place := cloud.Place{Cloud: Name, Region: s.Region, Zone: s.Zone}
	var lost error
	err := p.m.Poll(ctx, fmt.Sprintf("VMs %s are not running", strings.Join(s.VMs, ", ")), func(ctx context.Context) (bool, error) {
		ready := true
		for rank, n := range s.VMs {
			ps, err := p.powerState(ctx, c, place, s.Group, n)
			if err != nil {
				return false, err
			}
			if ps == "gone" || ps == "deallocated" {
				if s.Spot {
					lost = &cloud.PreemptedError{Place: place, Cluster: name, Rank: rank, Reason: "Spot VM " + n + " evicted by Azure"}
				} else {
					lost = &cloud.CapacityError{Place: place, Reason: fmt.Sprintf("VM %s of node %d is %s while starting", n, rank, ps)}
				}
				return true, nil
			}
			ready = ps == "running" && ready
		}
		return ready, nil
	})
	if err == nil {
		err = lost
	}
	if err != nil {
		return nil, err
	}
	hosts := make([]vm.Host, len(s.VMs))
	for i, n := range s.VMs {
		nic, err := c.nics.Get(ctx, s.Group, n+"-nic", nil)
		if err != nil {
			return nil, classify("get network interface "+n+"-nic", place, err)
		}
		h := vm.Host{ID: n}
		if pr := nic.Properties; pr != nil && len(pr.IPConfigurations) > 0 && pr.IPConfigurations[0].Properties != nil {
			if a := pr.IPConfigurations[0].Properties.PrivateIPAddress; a != nil {
				h.PrivateIP = *a
			}
		}
		ip, err := c.ips.Get(ctx, s.Group, n+"-ip", nil)
		if err != nil {
			return nil, classify("get public IP address "+n+"-ip", place, err)
		}
		if ip.Properties != nil && ip.Properties.IPAddress != nil {
			h.PublicIP = *ip.Properties.IPAddress
		}
		if h.PrivateIP == "" {
			return nil, fmt.Errorf("VM %s in %s: its network interface has no private address", n, place)
		}
		hosts[i] = h
	}
	return p.m.Finish(ctx, place, name, hosts, s, &s.Cluster, report,
		handle{Cluster: name, Region: s.Region, Group: s.Group, OwnGroup: s.OwnGroup, VMs: s.VMs})
}

// Transport opens an SSH connection to the node of the given rank, on its public address.
func (p *Provider) Transport(ctx context.Context, info *cloud.ClusterInfo, rank int) (transport.Transport, error) {
	return p.m.Transport(ctx, info, rank)
}
