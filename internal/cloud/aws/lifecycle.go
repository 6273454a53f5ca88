package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
	"github.com/stix-run/stix/internal/transport"
)

// located is where a cluster lives and which instances are its, from stix's state or else the caller's handle.
type located struct {
	state  *state // nil when stix has no state for it
	region string
	ids    []string
}

func (p *Provider) locate(ref cloud.ClusterRef) (located, error) {
	s, err := vm.Load[state](p.m, ref.Name)
	if err != nil {
		return located{}, err
	}
	if s != nil {
		return located{state: s, region: s.Region, ids: s.InstanceIDs}, nil
	}
	var h handle
	if len(ref.Handle) > 0 && json.Unmarshal(ref.Handle, &h) == nil && h.Region != "" {
		return located{region: h.Region, ids: h.InstanceIDs}, nil
	}
	return located{}, nil
}

// tagged lists the cluster's instances in the region by its tag (terminated ones included, which EC2 shows
// for a while), in the order of ids when given, else by launch index.
func tagged(ctx context.Context, c *ec2.Client, place cloud.Place, cluster string, ids []string) ([]types.Instance, error) {
	out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{
		filter("tag:"+tagCluster, cluster), filter("tag:"+tagUser, userHash())}})
	if err != nil {
		return nil, classify("describe instances", place, err)
	}
	var insts []types.Instance
	for _, r := range out.Reservations {
		insts = append(insts, r.Instances...)
	}
	rank := func(in types.Instance) int {
		if i := slices.Index(ids, awssdk.ToString(in.InstanceId)); i >= 0 {
			return i
		}
		return len(ids) + int(awssdk.ToInt32(in.AmiLaunchIndex))
	}
	slices.SortStableFunc(insts, func(a, b types.Instance) int { return rank(a) - rank(b) })
	return insts, nil
}

// Query reports EC2's view of each node: running, pending (booting, stopping, shutting down), stopped, or
// missing (terminated, a spot instance taken back). A cluster with no instances gives none.
func (p *Provider) Query(ctx context.Context, ref cloud.ClusterRef) ([]cloud.NodeState, error) {
	loc, err := p.locate(ref)
	if err != nil || loc.region == "" {
		return nil, err
	}
	place := cloud.Place{Cloud: Name, Region: loc.region}
	c, err := p.client(ctx, loc.region)
	if err != nil {
		return nil, err
	}
	insts, err := tagged(ctx, c, place, ref.Name, loc.ids)
	if err != nil {
		return nil, err
	}
	var states []cloud.NodeState
	for i, in := range insts {
		st := cloud.NodeState{Rank: i}
		id := awssdk.ToString(in.InstanceId)
		switch in.State.Name {
		case types.InstanceStateNameRunning:
			st.Status = cloud.NodeRunning
		case types.InstanceStateNameStopped:
			st.Status, st.Reason = cloud.NodeStopped, "instance "+id+" is stopped"
		case types.InstanceStateNamePending, types.InstanceStateNameStopping, types.InstanceStateNameShuttingDown:
			// shutting-down is on its way to terminated: until it gets there, its security group cannot be
			// deleted (sweep), so the cluster is not dropped yet.
			st.Status, st.Reason = cloud.NodePending, "instance "+id+" is "+string(in.State.Name)
		default:
			st.Status, st.Reason = cloud.NodeMissing, "instance "+id+" is "+string(in.State.Name)
			if in.StateReason != nil {
				st.Reason += " (" + awssdk.ToString(in.StateReason.Message) + ")"
			}
			if in.InstanceLifecycle == types.InstanceLifecycleTypeSpot {
				st.Reason += ": spot instance preempted"
			}
		}
		states = append(states, st)
	}
	p.sweep(ctx, c, place, ref.Name, loc, insts)
	return states, nil
}

// sweep deletes what is left of a cluster whose instances have all ended without stix terminating them (spot
// instances taken back, instances terminated in the console): its security group and stix's record. The
// caller drops a cluster with no node left without calling Terminate, so this is the last chance. Best effort:
// what fails now is tried again at the next Query.
func (p *Provider) sweep(ctx context.Context, c *ec2.Client, place cloud.Place, name string, loc located, insts []types.Instance) {
	if loc.state == nil || len(insts) == 0 {
		return
	}
	for _, in := range insts {
		if in.State.Name != types.InstanceStateNameTerminated {
			return
		}
	}
	if loc.state.SecurityGroupID != "" && deleteSecurityGroup(ctx, c, place, loc.state.SecurityGroupID) != nil {
		return
	}
	_ = p.forget(name)
}

// Stop stops the cluster's instances, keeping their disks. Spot instances cannot be stopped.
func (p *Provider) Stop(ctx context.Context, ref cloud.ClusterRef) error {
	loc, err := p.locate(ref)
	if err != nil {
		return err
	}
	if loc.region == "" {
		return p.m.NoRecord(ref.Name)
	}
	if loc.state != nil && loc.state.Spot {
		return &cloud.UnsupportedError{Cloud: Name, Operation: "stop of a spot cluster", Hint: "use `stix down` to terminate it"}
	}
	place := cloud.Place{Cloud: Name, Region: loc.region}
	c, err := p.client(ctx, loc.region)
	if err != nil {
		return err
	}
	if _, err := c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: loc.ids}); err != nil {
		return fmt.Errorf("stop aws cluster %s: %w", ref.Name, classify("stop instances", place, err))
	}
	_, err = p.waitInstances(ctx, c, place, loc.ids, "stopped", func(in types.Instance) bool {
		return in.State.Name == types.InstanceStateNameStopped || in.State.Name == types.InstanceStateNameTerminated
	})
	if err != nil {
		return fmt.Errorf("stop aws cluster %s: %w", ref.Name, err)
	}
	return nil
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
	c, err := p.client(ctx, s.Region)
	if err != nil {
		return nil, err
	}
	insts, err := describe(ctx, c, place, s.InstanceIDs)
	if err != nil {
		return nil, err
	}
	var stopped []string
	for _, in := range insts {
		if in.State.Name == types.InstanceStateNameStopped || in.State.Name == types.InstanceStateNameStopping {
			stopped = append(stopped, awssdk.ToString(in.InstanceId))
		}
	}
	if len(stopped) > 0 {
		// A stopping instance cannot be started yet.
		if _, err := p.waitInstances(ctx, c, place, stopped, "stopped", func(in types.Instance) bool {
			return in.State.Name != types.InstanceStateNameStopping
		}); err != nil {
			return nil, err
		}
		if _, err := c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: stopped}); err != nil {
			return nil, fmt.Errorf("start aws cluster %s: %w", ref.Name, classify("start instances", place, err))
		}
	}
	info, err := p.bringUp(ctx, c, ref.Name, s, nil)
	if err != nil {
		return nil, fmt.Errorf("start aws cluster %s: %w", ref.Name, err)
	}
	return info, nil
}

// Terminate terminates the cluster's instances (found by its tag too), waits for them to end, and deletes its
// security group. A cluster that is gone already succeeds.
func (p *Provider) Terminate(ctx context.Context, ref cloud.ClusterRef) error {
	loc, err := p.locate(ref)
	if err != nil {
		return err
	}
	if loc.region == "" {
		return p.forget(ref.Name)
	}
	place := cloud.Place{Cloud: Name, Region: loc.region}
	c, err := p.client(ctx, loc.region)
	if err != nil {
		return err
	}
	insts, err := tagged(ctx, c, place, ref.Name, loc.ids)
	if err != nil {
		return fmt.Errorf("terminate aws cluster %s: %w", ref.Name, err)
	}
	ids := slices.Clone(loc.ids)
	for _, in := range insts {
		if id := awssdk.ToString(in.InstanceId); !slices.Contains(ids, id) && in.State.Name != types.InstanceStateNameTerminated {
			ids = append(ids, id)
		}
	}
	if err := p.terminateInstances(ctx, c, place, ids); err != nil {
		return fmt.Errorf("terminate aws cluster %s: %w", ref.Name, err)
	}
	if loc.state != nil && loc.state.SecurityGroupID != "" {
		if err := deleteSecurityGroup(ctx, c, place, loc.state.SecurityGroupID); err != nil {
			return fmt.Errorf("terminate aws cluster %s: %w", ref.Name, err)
		}
	}
	return p.forget(ref.Name)
}

// terminateInstances terminates the instances and waits until they are terminated (their security group can
// be deleted only then). Instances EC2 no longer knows are done already.
func (p *Provider) terminateInstances(ctx context.Context, c *ec2.Client, place cloud.Place, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids})
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "InvalidInstanceID.NotFound" {
		return nil
	}
	if err != nil {
		return classify("terminate instances", place, err)
	}
	_, err = p.waitInstances(ctx, c, place, ids, "terminated", func(in types.Instance) bool {
		return in.State.Name == types.InstanceStateNameTerminated
	})
	return err
}

// deleteSecurityGroup deletes the cluster's security group; one that is gone already is fine.
func deleteSecurityGroup(ctx context.Context, c *ec2.Client, place cloud.Place, id string) error {
	_, err := c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: awssdk.String(id)})
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "InvalidGroup.NotFound" {
		return nil
	}
	return classify("delete security group "+id, place, err)
}

// Transport opens an SSH connection to the node of the given rank, on its public address.
func (p *Provider) Transport(ctx context.Context, info *cloud.ClusterInfo, rank int) (transport.Transport, error) {
	return p.m.Transport(ctx, info, rank)
}
