package nebius

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
)

// where is what finds a cluster on Nebius: its project and region, its instances (rank order), and its state
// when stix keeps one.
type where struct {
	project, region string
	ids             []string
	s               *state
}

// locate reads the cluster's state, else its Handle.
func (p *Provider) locate(ref cloud.ClusterRef) (where, error) {
	s, err := vm.Load[state](p.m, ref.Name)
	if err != nil {
		return where{}, err
	}
	if s != nil {
		return where{project: s.Project, region: s.Region, ids: s.InstanceIDs, s: s}, nil
	}
	var h handle
	if len(ref.Handle) > 0 && json.Unmarshal(ref.Handle, &h) == nil {
		return where{project: h.Project, region: h.Region, ids: h.InstanceIDs}, nil
	}
	return where{}, nil
}

// ours says whether an instance or disk carries the cluster's label.
func ours(cluster string, labels map[string]string) bool { return labels[labelKey] == label(cluster) }

// mine lists the cluster's instances: those of ids, in their order (gone ones in state DELETING), then others
// carrying its label.
func mine(cluster string, all []instance, ids []string) []instance {
	return vm.Mine(all, ids, instanceID, func(id string) instance { return instance{metadata: metadata{ID: id}, State: stateDeleting} },
		func(in instance) bool { return ours(cluster, in.Labels) })
}

// Query reports Nebius's view of each node: RUNNING is running; CREATING, STARTING and UPDATING pending;
// STOPPING and STOPPED stopped (a stopped instance still bills its disk), except a preemptible instance that
// Nebius stopped itself, which was taken back (missing); DELETING, ERROR or gone are missing. A cluster whose
// instances are all gone is forgotten, its disks deleted.
func (p *Provider) Query(ctx context.Context, ref cloud.ClusterRef) ([]cloud.NodeState, error) {
	w, err := p.locate(ref)
	if err != nil || w.project == "" {
		return nil, err
	}
	c, err := newClient(ctx)
	if err != nil {
		return nil, err
	}
	place := cloud.Place{Cloud: Name, Region: w.region}
	all, err := c.instances(ctx, w.project)
	if err != nil {
		return nil, classify("list instances", place, err)
	}
	ins := mine(ref.Name, all, w.ids)
	var states []cloud.NodeState
	gone, preempted := 0, 0
	for i, in := range ins {
		st := cloud.NodeState{Rank: i}
		switch in.State {
		case stateRunning:
			st.Status = cloud.NodeRunning
		case stateCreating, stateStarting, stateUpdating:
			st.Status, st.Reason = cloud.NodePending, "instance "+in.ID+" is "+stateName(in.State)
		case stateStopping, stateStopped:
			if in.Preemptible && w.s != nil && !w.s.Stopped {
				st.Status, st.Reason = cloud.NodeMissing, "preemptible instance "+in.ID+" was taken back by Nebius (preempted)"
				preempted++
				break
			}
			st.Status, st.Reason = cloud.NodeStopped, "instance "+in.ID+" is stopped (Nebius still bills its disk)"
		default:
			st.Status, st.Reason = cloud.NodeMissing, "instance "+in.ID+" is gone ("+stateName(in.State)+")"
			gone++
		}
		states = append(states, st)
	}
	switch {
	case w.s != nil && gone == len(ins):
		if p.deleteDisks(ctx, c, place, w.project, ref.Name, w.s.DiskIDs) == nil {
			_ = p.m.Forget(ref.Name)
		}
	case w.s != nil && preempted > 0 && gone+preempted == len(ins):
		// The caller drops a cluster with no node left without calling Terminate: delete what is left of a spot
		// cluster Nebius took back (its stopped instances' disks cost) now; what fails is tried at the next Query.
		if p.deleteAll(ctx, c, place, w.project, ref.Name, w.ids, w.s.DiskIDs) == nil {
			_ = p.m.Forget(ref.Name)
		}
	}
	return states, nil
}

// Stop stops the cluster's instances (InstanceService.Stop) and waits until they are stopped. Nebius bills a
// stopped instance's disks only.
func (p *Provider) Stop(ctx context.Context, ref cloud.ClusterRef) error {
	w, err := p.locate(ref)
	if err != nil {
		return err
	}
	if len(w.ids) == 0 || w.s == nil {
		return p.m.NoRecord(ref.Name)
	}
	c, err := newClient(ctx)
	if err != nil {
		return err
	}
	place := cloud.Place{Cloud: Name, Region: w.region}
	w.s.Stopped = true
	if err := p.m.WriteState(ref.Name, w.s); err != nil {
		return err
	}
	all, err := c.instances(ctx, w.project)
	if err != nil {
		return fmt.Errorf("stop Nebius cluster %s: %w", ref.Name, classify("list instances", place, err))
	}
	for _, in := range byID(all, w.ids) {
		if in.ID != "" && in.State != stateStopped && in.State != stateStopping {
			if _, err := c.operation(ctx, p.m.Poll, svcCompute, instanceSvc+"Stop", msg(nil).str(1, in.ID)); err != nil {
				return fmt.Errorf("stop Nebius cluster %s: %w", ref.Name, classify("stop instance "+in.ID, place, err))
			}
		}
	}
	return p.waitState(ctx, c, place, w, stateStopped, "stop")
}

// waitState waits until every instance of the cluster that Nebius lists is in state want.
func (p *Provider) waitState(ctx context.Context, c *client, place cloud.Place, w where, want int, verb string) error {
	err := p.m.Poll(ctx, "the instances are not "+stateName(want), func(ctx context.Context) (bool, error) {
		all, err := c.instances(ctx, w.project)
		if err != nil {
			return false, classify("list instances", place, err)
		}
		for _, in := range byID(all, w.ids) {
			if in.ID != "" && in.State != want {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("%s Nebius cluster: %w", verb, err)
	}
	return nil
}

// Start starts the cluster's stopped instances and deploys the agents again.
func (p *Provider) Start(ctx context.Context, ref cloud.ClusterRef) (*cloud.ClusterInfo, error) {
	s, err := vm.Known[state](p.m, ref.Name)
	if err != nil {
		return nil, err
	}
	place := cloud.Place{Cloud: Name, Region: s.Region}
	c, err := newClient(ctx)
	if err != nil {
		return nil, err
	}
	all, err := c.instances(ctx, s.Project)
	if err != nil {
		return nil, fmt.Errorf("start Nebius cluster %s: %w", ref.Name, classify("list instances", place, err))
	}
	for _, in := range byID(all, s.InstanceIDs) {
		if in.State == stateStopped || in.State == stateStopping {
			if _, err := c.operation(ctx, p.m.Poll, svcCompute, instanceSvc+"Start", msg(nil).str(1, in.ID)); err != nil {
				return nil, fmt.Errorf("start Nebius cluster %s: %w", ref.Name, classify("start instance "+in.ID, place, err))
			}
		}
	}
	info, err := p.bringUp(ctx, c, ref.Name, s, nil)
	if err != nil {
		return nil, fmt.Errorf("start Nebius cluster %s: %w", ref.Name, err)
	}
	return info, nil
}

// Terminate deletes the cluster's instances and their boot disks (those of its state, and any carrying its
// label). A cluster that is gone already succeeds.
func (p *Provider) Terminate(ctx context.Context, ref cloud.ClusterRef) error {
	w, err := p.locate(ref)
	if err != nil {
		return err
	}
	if w.project == "" {
		return p.m.Forget(ref.Name)
	}
	c, err := newClient(ctx)
	if err != nil {
		return err
	}
	var disks []string
	if w.s != nil {
		disks = w.s.DiskIDs
	}
	if err := p.deleteAll(ctx, c, cloud.Place{Cloud: Name, Region: w.region}, w.project, ref.Name, w.ids, disks); err != nil {
		return fmt.Errorf("terminate Nebius cluster %s: %w", ref.Name, err)
	}
	return p.m.Forget(ref.Name)
}

// deleteAll deletes the instances of ids and those carrying the cluster's label, each waited for, then the
// disks of diskIDs and those carrying the label.
func (p *Provider) deleteAll(ctx context.Context, c *client, place cloud.Place, project, cluster string, ids, diskIDs []string) error {
	all, err := c.instances(ctx, project)
	if err != nil {
		return classify("list instances", place, err)
	}
	var errs []error
	for _, in := range all {
		if !slices.Contains(ids, in.ID) && !ours(cluster, in.Labels) {
			continue
		}
		if in.BootDisk != "" && !slices.Contains(diskIDs, in.BootDisk) {
			diskIDs = append(diskIDs, in.BootDisk)
		}
		if _, err := c.operation(ctx, p.m.Poll, svcCompute, instanceSvc+"Delete", msg(nil).str(1, in.ID)); err != nil && !errNotFound(err) {
			errs = append(errs, classify("delete instance "+in.ID, place, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return p.deleteDisks(ctx, c, place, project, cluster, diskIDs)
}

// deleteDisks deletes the disks of ids and any carrying the cluster's label; one already gone is no error.
func (p *Provider) deleteDisks(ctx context.Context, c *client, place cloud.Place, project, cluster string, ids []string) error {
	ds, err := c.disks(ctx, project)
	if err != nil {
		return classify("list disks", place, err)
	}
	for _, d := range ds {
		if ours(cluster, d.Labels) && !slices.Contains(ids, d.ID) {
			ids = append(ids, d.ID)
		}
	}
	var errs []error
	for _, id := range ids {
		if _, err := c.operation(ctx, p.m.Poll, svcCompute, diskSvc+"Delete", msg(nil).str(1, id)); err != nil && !errNotFound(err) {
			errs = append(errs, classify("delete disk "+id, place, err))
		}
	}
	return errors.Join(errs...)
}
