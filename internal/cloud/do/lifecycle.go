package do

import (
	"context"
	"fmt"
	"strconv"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
)

// locate returns the cluster's droplet ids (rank order) and its state when stix keeps one, else the ids of the
// handle.
func (p *Provider) locate(ref cloud.ClusterRef) (ids []int, s *state, err error) {
	return vm.Locate(p.m, ref, func(s *state) []int { return s.DropletIDs },
		func(h *handle) []int { return h.DropletIDs })
}

// mine lists the cluster's droplets: those of ids, in their order (gone ones with status "archive"), then
// others carrying its tag.
func mine(tagged []droplet, ids []int) []droplet {
	return vm.Mine(tagged, ids, dropletID, func(id int) droplet { return droplet{ID: id, Status: "archive"} },
		func(droplet) bool { return true })
}

// Query reports DigitalOcean's view of each node: active is running, new pending, off stopped (a powered-off
// droplet, still billed), and a droplet DigitalOcean no longer lists is missing. A cluster whose droplets are
// all gone is forgotten, its volumes and firewall deleted.
func (p *Provider) Query(ctx context.Context, ref cloud.ClusterRef) ([]cloud.NodeState, error) {
	ids, s, err := p.locate(ref)
	if err != nil {
		return nil, err
	}
	c, err := newClient()
	if err != nil {
		return nil, err
	}
	place := cloud.Place{Cloud: Name}
	tagged, err := c.tagged(ctx, clusterTag(ref.Name))
	if err != nil {
		return nil, classify("list droplets", place, err)
	}
	ds := mine(tagged, ids)
	var states []cloud.NodeState
	gone := 0
	for i, d := range ds {
		st := cloud.NodeState{Rank: i}
		id := strconv.Itoa(d.ID)
		switch d.Status {
		case "active":
			st.Status = cloud.NodeRunning
		case "new":
			st.Status, st.Reason = cloud.NodePending, "droplet "+id+" is booting"
		case "off":
			st.Status, st.Reason = cloud.NodeStopped, "droplet "+id+" is powered off (DigitalOcean still bills it)"
		default:
			st.Status, st.Reason = cloud.NodeMissing, "droplet "+id+" is gone"
			gone++
		}
		states = append(states, st)
	}
	if len(ds) > 0 && gone == len(ds) {
		// The droplets stix knew (by its state, else the record's handle) are gone (`down` elsewhere, autodown):
		// their volumes (found by the cluster's tag) and the firewall go too. With no droplet known, volumes are
		// left alone: a launch makes them before its droplets.
		if err := p.deleteVolumes(ctx, c, place, clusterTag(ref.Name)); err != nil {
			return nil, err
		}
		if s != nil && p.deleteFirewall(ctx, c, place, s.FirewallID) == nil {
			_ = p.m.Forget(ref.Name)
		}
	}
	return states, nil
}

// Stop shuts the cluster's droplets down (DigitalOcean's graceful shutdown, as SkyPilot stops them) and waits
// until they are off. DigitalOcean keeps billing a droplet that is off: only `stix down` ends the charge.
func (p *Provider) Stop(ctx context.Context, ref cloud.ClusterRef) error {
	ids, _, err := p.locate(ref)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return p.m.NoRecord(ref.Name)
	}
	c, err := newClient()
	if err != nil {
		return err
	}
	place := cloud.Place{Cloud: Name}
	tagged, err := c.tagged(ctx, clusterTag(ref.Name))
	if err != nil {
		return fmt.Errorf("stop DO cluster %s: %w", ref.Name, classify("list droplets", place, err))
	}
	for _, d := range byID(tagged, ids) {
		if d.Status == "active" || d.Status == "new" {
			if err := c.action(ctx, d.ID, "shutdown"); err != nil {
				return fmt.Errorf("stop DO cluster %s: %w", ref.Name, classify("shut down droplet "+strconv.Itoa(d.ID), place, err))
			}
		}
	}
	err = p.m.Poll(ctx, "droplets "+joinIDs(ids)+" are not off", func(ctx context.Context) (bool, error) {
		tagged, err := c.tagged(ctx, clusterTag(ref.Name))
		if err != nil {
			return false, classify("list droplets", place, err)
		}
		for _, d := range byID(tagged, ids) {
			if d.ID != 0 && d.Status != "off" {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("stop DO cluster %s: %w", ref.Name, err)
	}
	return nil
}

// Start powers the cluster's droplets on and deploys the agents again.
func (p *Provider) Start(ctx context.Context, ref cloud.ClusterRef) (*cloud.ClusterInfo, error) {
	s, err := vm.Known[state](p.m, ref.Name)
	if err != nil {
		return nil, err
	}
	place := cloud.Place{Cloud: Name, Region: s.Region}
	c, err := newClient()
	if err != nil {
		return nil, err
	}
	tagged, err := c.tagged(ctx, clusterTag(ref.Name))
	if err != nil {
		return nil, fmt.Errorf("start DO cluster %s: %w", ref.Name, classify("list droplets", place, err))
	}
	for _, d := range byID(tagged, s.DropletIDs) {
		if d.Status == "off" {
			if err := c.action(ctx, d.ID, "power_on"); err != nil {
				return nil, fmt.Errorf("start DO cluster %s: %w", ref.Name, classify("power on droplet "+strconv.Itoa(d.ID), place, err))
			}
		}
	}
	info, err := p.bringUp(ctx, c, ref.Name, s, nil)
	if err != nil {
		return nil, fmt.Errorf("start DO cluster %s: %w", ref.Name, err)
	}
	return info, nil
}

// Terminate deletes the cluster's droplets (by its tag), waits until DigitalOcean no longer lists them, deletes
// its volumes (by its tag, once detached) and its firewall. A cluster that is gone already succeeds.
func (p *Provider) Terminate(ctx context.Context, ref cloud.ClusterRef) error {
	_, s, err := p.locate(ref)
	if err != nil {
		return err
	}
	c, err := newClient()
	if err != nil {
		return err
	}
	place := cloud.Place{Cloud: Name}
	if err := p.deleteDroplets(ctx, c, place, clusterTag(ref.Name)); err != nil {
		return fmt.Errorf("terminate DO cluster %s: %w", ref.Name, err)
	}
	if err := p.deleteVolumes(ctx, c, place, clusterTag(ref.Name)); err != nil {
		return fmt.Errorf("terminate DO cluster %s: %w", ref.Name, err)
	}
	fw := ""
	if s != nil {
		fw = s.FirewallID
	}
	if fw == "" {
		if fw, err = findFirewall(ctx, c, place, ref.Name); err != nil {
			return fmt.Errorf("terminate DO cluster %s: %w", ref.Name, err)
		}
	}
	if fw != "" {
		if err := p.deleteFirewall(ctx, c, place, fw); err != nil {
			return fmt.Errorf("terminate DO cluster %s: %w", ref.Name, err)
		}
	}
	return p.m.Forget(ref.Name)
}

// deleteDroplets deletes every droplet carrying tag and waits until DigitalOcean no longer lists them.
func (p *Provider) deleteDroplets(ctx context.Context, c *client, place cloud.Place, tag string) error {
	if err := c.deleteTagged(ctx, tag); err != nil && !notFound(err) {
		return classify("delete droplets", place, err)
	}
	return p.m.Poll(ctx, "droplets tagged "+tag+" are not deleted", func(ctx context.Context) (bool, error) {
		left, err := c.tagged(ctx, tag)
		if err != nil {
			return false, classify("list droplets", place, err)
		}
		return len(left) == 0, nil
	})
}
