package aws

import (
	"context"
	"encoding/json"
	"fmt"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
)

// Autostop on AWS with no credentials on the head: when the cluster has been idle long enough, every node's agent
// powers its instance off (cloud.ExitPoweroff), and EC2 does what the instance's InstanceInitiatedShutdownBehavior
// says: stop (set at launch), or terminate, which PrepareSelfStop sets for autodown. A terminated cluster is then
// seen by `status -r` as gone and dropped, its security group deleted (sweep).

// SelfStopExit says that a node ends by powering its instance off.
func (p *Provider) SelfStopExit() cloud.NodeExit { return cloud.ExitPoweroff }

// PrepareSelfStop sets what a guest power-off does to the cluster's instances: stop, or terminate for autodown;
// it is recorded in stix's state. Spot instances can only terminate.
func (p *Provider) PrepareSelfStop(ctx context.Context, ref cloud.ClusterRef, down bool) error {
	s, err := vm.Known[state](p.m, ref.Name)
	if err != nil {
		return err
	}
	if s.Spot && !down {
		return cloud.SpotAutostopError(Name, "")
	}
	behavior := types.ShutdownBehaviorStop
	if down {
		behavior = types.ShutdownBehaviorTerminate
	}
	place := cloud.Place{Cloud: Name, Region: s.Region}
	c, err := p.client(ctx, s.Region)
	if err != nil {
		return err
	}
	for _, id := range s.InstanceIDs {
		_, err := c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: awssdk.String(id),
			InstanceInitiatedShutdownBehavior: &types.AttributeValue{Value: awssdk.String(string(behavior))}})
		if err != nil {
			return classify("set the shutdown behavior of "+id, place, err)
		}
	}
	s.Autodown = down
	return p.writeState(ref.Name, s)
}

// SelfStopped says how the cluster's head ended, from EC2's view of it: stopped (autostop) or, when autodown
// was set, stopped or terminated (down). A running head, or a cluster stix has no record of, says nothing.
func (p *Provider) SelfStopped(ctx context.Context, info *cloud.ClusterInfo) (cloud.SelfStopMark, error) {
	var h handle
	if info == nil || json.Unmarshal(info.Handle, &h) != nil || h.Cluster == "" {
		return cloud.SelfStopNone, fmt.Errorf("aws cluster: the record names no cluster")
	}
	s, err := vm.Load[state](p.m, h.Cluster)
	if err != nil || s == nil || len(s.InstanceIDs) == 0 {
		return cloud.SelfStopNone, err
	}
	c, err := p.client(ctx, s.Region)
	if err != nil {
		return cloud.SelfStopNone, err
	}
	insts, err := describe(ctx, c, cloud.Place{Cloud: Name, Region: s.Region}, s.InstanceIDs[:1])
	if err != nil || len(insts) == 0 {
		return cloud.SelfStopNone, err
	}
	switch st := insts[0].State.Name; {
	case s.Autodown && (st == types.InstanceStateNameStopped || st == types.InstanceStateNameTerminated):
		return cloud.SelfStopDown, nil
	case st == types.InstanceStateNameStopped:
		return cloud.SelfStopStop, nil
	}
	return cloud.SelfStopNone, nil
}
