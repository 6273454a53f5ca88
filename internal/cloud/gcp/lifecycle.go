package gcp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
	"github.com/stix-run/stix/internal/transport"
)

// located is where a cluster lives and which instances are its, from stix's state or else the caller's handle.
type located struct {
	state *state // nil when stix has no state for it
	zone  string
	names []string
}

func (p *Provider) locate(ref cloud.ClusterRef) (located, error) {
	s, err := vm.Load[state](p.m, ref.Name)
	if err != nil {
		return located{}, err
	}
	if s != nil {
		return located{state: s, zone: s.Zone, names: s.Instances}, nil
	}
	var h handle
	if len(ref.Handle) > 0 && json.Unmarshal(ref.Handle, &h) == nil && h.Zone != "" {
		return located{zone: h.Zone, names: h.Instances}, nil
	}
	return located{}, nil
}

// labelled lists the cluster's instances in the zone by its labels, in the order of names when given.
func labelled(ctx context.Context, a *api, place cloud.Place, cluster string, names []string) ([]instance, error) {
	q := url.Values{"filter": {fmt.Sprintf(`(labels.%s = "%s") AND (labels.%s = "%s")`,
		labelCluster, labelValue(cluster), labelUser, vm.UserHash())}}
	var out struct {
		Items []instance `json:"items"`
	}
	if err := a.do(ctx, http.MethodGet, "zones/"+place.Zone+"/instances", q, nil, &out); err != nil {
		return nil, classify("list instances", place, err)
	}
	rank := func(in instance) int {
		if i := slices.Index(names, in.Name); i >= 0 {
			return i
		}
		return len(names)
	}
	slices.SortStableFunc(out.Items, func(x, y instance) int { return rank(x) - rank(y) })
	return out.Items, nil
}

// Query reports Compute Engine's view of each node: running, pending (provisioning, staging, stopping),
// stopped, or missing (deleted, a spot VM taken back). A cluster with no instances gives none.
func (p *Provider) Query(ctx context.Context, ref cloud.ClusterRef) ([]cloud.NodeState, error) {
	loc, err := p.locate(ref)
	if err != nil || loc.zone == "" {
		return nil, err
	}
	a, err := p.client()
	if err != nil {
		return nil, err
	}
	place := cloud.Place{Cloud: Name, Zone: loc.zone}
	insts, err := labelled(ctx, a, place, ref.Name, loc.names)
	if err != nil {
		return nil, err
	}
	var states []cloud.NodeState
	for i, in := range insts {
		st := cloud.NodeState{Rank: i}
		switch in.Status {
		case "RUNNING":
			st.Status = cloud.NodeRunning
		case "PROVISIONING", "STAGING", "STOPPING", "SUSPENDING", "REPAIRING":
			st.Status, st.Reason = cloud.NodePending, "instance "+in.Name+" is "+in.Status
		case "TERMINATED", "STOPPED", "SUSPENDED":
			// Compute Engine calls a stopped VM TERMINATED. stix does not stop spot clusters: a spot VM there
			// was taken back.
			st.Status, st.Reason = cloud.NodeStopped, "instance "+in.Name+" is stopped"
			if in.spot() {
				st.Status, st.Reason = cloud.NodeMissing, "instance "+in.Name+" is "+in.Status+": spot instance preempted"
			}
		default:
			st.Status, st.Reason = cloud.NodeMissing, "instance "+in.Name+" is "+in.Status
		}
		states = append(states, st)
	}
	p.sweep(ctx, a, place, ref.Name, loc, insts)
	return states, nil
}

// sweep deletes what is left of a spot cluster whose VMs have all been taken back: the VMs (their disks cost)
// and the firewall rule, and stix's record. The caller drops a cluster with no node left without calling
// Terminate, so this is the last chance. Best effort: what fails now is tried again at the next Query.
func (p *Provider) sweep(ctx context.Context, a *api, place cloud.Place, name string, loc located, insts []instance) {
	if loc.state == nil || !loc.state.Spot || len(insts) == 0 {
		return
	}
	var names []string
	for _, in := range insts {
		if in.Status != "TERMINATED" && in.Status != "STOPPED" {
			return
		}
		names = append(names, in.Name)
	}
	if p.deleteInstances(ctx, a, place, names) != nil {
		return
	}
	if loc.state.Firewall != "" && p.deleteFirewall(ctx, a, place, loc.state.Firewall) != nil {
		return
	}
	_ = p.m.Forget(name)
}

// Stop stops the cluster's instances, keeping their disks. Spot clusters are not stopped (use down).
func (p *Provider) Stop(ctx context.Context, ref cloud.ClusterRef) error {
	loc, err := p.locate(ref)
	if err != nil {
		return err
	}
	if loc.zone == "" {
		return p.m.NoRecord(ref.Name)
	}
	if loc.state != nil && loc.state.Spot {
		return &cloud.UnsupportedError{Cloud: Name, Operation: "stop of a spot cluster", Hint: "use `stix down` to terminate it"}
	}
	a, err := p.client()
	if err != nil {
		return err
	}
	place := cloud.Place{Cloud: Name, Zone: loc.zone}
	if err := p.each(ctx, a, place, loc.names, "stop"); err != nil {
		return fmt.Errorf("stop gcp cluster %s: %w", ref.Name, err)
	}
	_, err = p.waitInstances(ctx, a, place, loc.names, "stopped", func(_ int, in *instance) bool {
		return in.Status == "TERMINATED" || in.Status == "STOPPED"
	})
	if err != nil {
		return fmt.Errorf("stop gcp cluster %s: %w", ref.Name, err)
	}
	return nil
}

// each calls instances.<verb> (stop, start) on every named instance and waits for the operations.
func (p *Provider) each(ctx context.Context, a *api, place cloud.Place, names []string, verb string) error {
	return cloud.EachNode(ctx, len(names), func(ctx context.Context, i int) error {
		var op operation
		if err := a.do(ctx, http.MethodPost, "zones/"+place.Zone+"/instances/"+names[i]+"/"+verb, nil, nil, &op); err != nil {
			return classify(verb+" instance "+names[i], place, err)
		}
		return p.wait(ctx, a, place, &op, verb+" instance "+names[i])
	})
}

// Start starts the cluster's stopped instances and deploys the agents again (their addresses may have changed).
func (p *Provider) Start(ctx context.Context, ref cloud.ClusterRef) (*cloud.ClusterInfo, error) {
	s, err := vm.Known[state](p.m, ref.Name)
	if err != nil {
		return nil, err
	}
	place := cloud.Place{Cloud: Name, Region: s.Region, Zone: s.Zone}
	if _, err := p.m.Prepare(); err != nil {
		return nil, err
	}
	a, err := p.client()
	if err != nil {
		return nil, err
	}
	// A stopping instance cannot be started yet.
	insts, err := p.waitInstances(ctx, a, place, s.Instances, "stopped", func(_ int, in *instance) bool {
		return in.Status != "STOPPING"
	})
	if err != nil {
		return nil, err
	}
	var stopped []string
	for _, in := range insts {
		if in.Status == "TERMINATED" || in.Status == "STOPPED" {
			stopped = append(stopped, in.Name)
		}
	}
	if err := p.each(ctx, a, place, stopped, "start"); err != nil {
		return nil, fmt.Errorf("start gcp cluster %s: %w", ref.Name, err)
	}
	info, err := p.bringUp(ctx, a, ref.Name, s, nil)
	if err != nil {
		return nil, fmt.Errorf("start gcp cluster %s: %w", ref.Name, err)
	}
	return info, nil
}

// Terminate deletes the cluster's instances (found by its labels too), waits for them to be gone, and deletes
// its firewall rule. A cluster that is gone already succeeds.
func (p *Provider) Terminate(ctx context.Context, ref cloud.ClusterRef) error {
	loc, err := p.locate(ref)
	if err != nil {
		return err
	}
	if loc.zone == "" {
		return p.m.Forget(ref.Name)
	}
	a, err := p.client()
	if err != nil {
		return err
	}
	place := cloud.Place{Cloud: Name, Zone: loc.zone}
	insts, err := labelled(ctx, a, place, ref.Name, loc.names)
	if err != nil {
		return fmt.Errorf("terminate gcp cluster %s: %w", ref.Name, err)
	}
	names := slices.Clone(loc.names)
	for _, in := range insts {
		if !slices.Contains(names, in.Name) {
			names = append(names, in.Name)
		}
	}
	if err := p.deleteInstances(ctx, a, place, names); err != nil {
		return fmt.Errorf("terminate gcp cluster %s: %w", ref.Name, err)
	}
	fw := resourceName(ref.Name)
	if loc.state != nil && loc.state.Firewall != "" {
		fw = loc.state.Firewall
	}
	if err := p.deleteFirewall(ctx, a, place, fw); err != nil {
		return fmt.Errorf("terminate gcp cluster %s: %w", ref.Name, err)
	}
	return p.m.Forget(ref.Name)
}

// Transport opens an SSH connection to the node of the given rank, on its external address.
func (p *Provider) Transport(ctx context.Context, info *cloud.ClusterInfo, rank int) (transport.Transport, error) {
	return p.m.Transport(ctx, info, rank)
}
