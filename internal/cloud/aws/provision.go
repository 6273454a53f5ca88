package aws

import (
	"context"
	"errors"
	"fmt"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
)

// Default image tags of the catalog's images.csv, as SkyPilot picks them.
const (
	cpuImageTag = "skypilot:custom-cpu-ubuntu"
	gpuImageTag = "skypilot:custom-gpu-ubuntu"
)

func isAMI(id string) bool { return strings.HasPrefix(id, "ami-") }
func isTag(id string) bool { return strings.HasPrefix(id, "skypilot:") }

// state is what stix keeps of an AWS cluster, in Home/aws/clusters/NAME.json; the instances themselves carry
// the cluster's tag, so that they are found without it.
type state struct {
	Region          string   `json:"region"`
	Zone            string   `json:"zone"`
	InstanceIDs     []string `json:"instance_ids"` // rank order
	SecurityGroupID string   `json:"security_group_id"`
	Spot            bool     `json:"spot,omitempty"`
	// Autodown says that the instances terminate on a guest power-off (PrepareSelfStop).
	Autodown bool `json:"autodown,omitempty"`
	vm.Cluster
}

// handle is the cluster's Handle: enough to reach its nodes.
type handle struct {
	Cluster     string   `json:"cluster"`
	Region      string   `json:"region"`
	InstanceIDs []string `json:"instance_ids"`
}

func (p *Provider) writeState(name string, s *state) error { return p.m.WriteState(name, s) }

func (p *Provider) forget(name string) error { return p.m.Forget(name) }

// Provision launches the cluster's instances in the offer's zone (or starts the cluster's stopped ones), waits
// for them, and deploys the agent on each over SSH. A new cluster that fails leaves nothing behind: its
// instances are terminated and its security group and a key pair imported for it deleted.
func (p *Provider) Provision(ctx context.Context, req cloud.ProvisionRequest) (*cloud.ClusterInfo, error) {
	return vm.Provision(ctx, p.m, req, func(s *state) int { return len(s.InstanceIDs) },
		func(ctx context.Context, s *state) (*cloud.ClusterInfo, error) {
			return p.Start(ctx, cloud.ClusterRef{Name: req.Cluster.Name})
		},
		func(ctx context.Context) (*cloud.ClusterInfo, error) { return p.launch(ctx, req.Cluster.Name, req) })
}

// launch makes a new cluster.
func (p *Provider) launch(ctx context.Context, name string, req cloud.ProvisionRequest) (_ *cloud.ClusterInfo, err error) {
	r := req.Requirements
	region, zone := first(req.Offer.Region, r.Region), first(req.Offer.Zone, r.Zone)
	instanceType := first(req.Offer.InstanceType, r.InstanceType)
	spot := req.Offer.Spot || r.UseSpot
	place := cloud.Place{Cloud: Name, Region: region, Zone: zone}
	if region == "" || instanceType == "" {
		return nil, fmt.Errorf("the offer names no region or instance type (region %q, instance type %q)", region, instanceType)
	}
	ports, err := p.m.ParsePorts(r.Ports)
	if err != nil {
		return nil, err
	}
	image, err := p.image(ctx, place, r.ImageID, len(req.Offer.Accelerators) > 0)
	if err != nil {
		return nil, err
	}
	pub, err := p.m.Prepare()
	if err != nil {
		return nil, err
	}
	c, err := p.client(ctx, region)
	if err != nil {
		return nil, err
	}

	// What is made from here on is undone when the launch fails.
	var made struct {
		keyImported, sgCreated bool
		sgID                   string
		instances              []string
	}
	defer func() {
		if err == nil {
			return
		}
		cleanup := context.WithoutCancel(ctx)
		var errs []error
		if len(made.instances) > 0 {
			errs = append(errs, p.terminateInstances(cleanup, c, place, made.instances))
		}
		if made.sgCreated {
			errs = append(errs, deleteSecurityGroup(cleanup, c, place, made.sgID))
		}
		if made.keyImported {
			_, derr := c.DeleteKeyPair(cleanup, &ec2.DeleteKeyPairInput{KeyName: awssdk.String(keyName())})
			errs = append(errs, classify("delete key pair", place, derr))
		}
		errs = append(errs, p.forget(name))
		if cerr := errors.Join(errs...); cerr != nil {
			err = fmt.Errorf("%w (cleaning up: %v)", err, cerr)
		}
	}()

	req.Report("checking the key pair in " + region)
	if made.keyImported, err = keyPair(ctx, c, place, keyName(), pub); err != nil {
		return nil, err
	}
	vpcID, err := vpc(ctx, c, place)
	if err != nil {
		return nil, err
	}
	if made.sgID, made.sgCreated, err = securityGroup(ctx, c, place, vpcID, name, ports); err != nil {
		return nil, err
	}

	n := r.Nodes()
	in := &ec2.RunInstancesInput{
		ImageId: awssdk.String(image), InstanceType: types.InstanceType(instanceType),
		MinCount: awssdk.Int32(int32(n)), MaxCount: awssdk.Int32(int32(n)),
		KeyName:           awssdk.String(keyName()),
		TagSpecifications: tags(types.ResourceTypeInstance, name, "stix-"+name),
		BlockDeviceMappings: []types.BlockDeviceMapping{{DeviceName: awssdk.String("/dev/sda1"),
			Ebs: disk(r.DiskSizeGB, r.DiskTier)}},
		// What autostop's power-off does (SelfStopExit): stop, until PrepareSelfStop says terminate.
		InstanceInitiatedShutdownBehavior: types.ShutdownBehaviorStop,
	}
	if spot {
		in.InstanceInitiatedShutdownBehavior = types.ShutdownBehaviorTerminate // a one-time spot instance cannot stop
		in.InstanceMarketOptions = &types.InstanceMarketOptionsRequest{MarketType: types.MarketTypeSpot,
			SpotOptions: &types.SpotMarketOptions{SpotInstanceType: types.SpotInstanceTypeOneTime,
				InstanceInterruptionBehavior: types.InstanceInterruptionBehaviorTerminate}}
	}
	// An offer for a whole region leaves the zone to the provider: the region's zones are tried in turn, as
	// SkyPilot does, and only when every one lacks capacity is the region ruled out.
	zones := []string{zone}
	if zone == "" {
		if zones, err = p.zones(ctx, region); err != nil {
			return nil, err
		}
	}
	var out *ec2.RunInstancesOutput
	var short []string
	for _, z := range zones {
		place.Zone = z
		var subnetID, zoneName string
		if subnetID, zoneName, err = subnet(ctx, c, place, vpcID); err == nil {
			place.Zone = zoneName
			in.NetworkInterfaces = []types.InstanceNetworkInterfaceSpecification{{DeviceIndex: awssdk.Int32(0),
				SubnetId: awssdk.String(subnetID), Groups: []string{made.sgID}, AssociatePublicIpAddress: awssdk.Bool(true)}}
			req.Report(fmt.Sprintf("launching %d %s instance(s) in %s", n, instanceType, place.Zone))
			out, err = c.RunInstances(ctx, in)
			err = classify("run instances", place, err)
		}
		var capErr *cloud.CapacityError
		if err == nil || !errors.As(err, &capErr) || zone != "" {
			break
		}
		req.Report(fmt.Sprintf("no capacity in %s: %s", place.Zone, capErr.Reason))
		short = append(short, place.Zone+": "+capErr.Reason)
	}
	if err != nil {
		if len(short) > 1 && len(short) == len(zones) {
			place.Zone = ""
			return nil, &cloud.CapacityError{Place: place, Reason: fmt.Sprintf("no zone of %s has capacity (%s)", region, strings.Join(short, "; "))}
		}
		return nil, err
	}
	subnetZone := place.Zone
	made.instances = make([]string, len(out.Instances))
	for _, inst := range out.Instances {
		i := int(awssdk.ToInt32(inst.AmiLaunchIndex))
		if i < 0 || i >= len(made.instances) || made.instances[i] != "" {
			i = slicesIndexEmpty(made.instances)
		}
		made.instances[i] = awssdk.ToString(inst.InstanceId)
	}
	s := &state{Region: region, Zone: subnetZone, InstanceIDs: made.instances, SecurityGroupID: made.sgID, Spot: spot}
	if s.Cluster, err = vm.NewCluster(name, req.Secret); err != nil {
		return nil, err
	}
	if err := p.writeState(name, s); err != nil {
		return nil, err
	}
	return p.bringUp(ctx, c, name, s, req.Report)
}

func slicesIndexEmpty(s []string) int {
	for i, v := range s {
		if v == "" {
			return i
		}
	}
	return 0
}

func first(a, b string) string { return vm.First(a, b) }

// disk is the root volume: disk_size (SkyPilot's 256 GB by default) on the EBS type of disk_tier.
func disk(sizeGB int, tier string) *types.EbsBlockDevice {
	if sizeGB <= 0 {
		sizeGB = 256
	}
	d := &types.EbsBlockDevice{VolumeSize: awssdk.Int32(int32(sizeGB)), DeleteOnTermination: awssdk.Bool(true),
		VolumeType: types.VolumeTypeGp3}
	switch strings.ToLower(tier) {
	case "low":
		d.VolumeType = types.VolumeTypeStandard
	case "high":
		d.Iops, d.Throughput = awssdk.Int32(7000), awssdk.Int32(750)
	case "ultra":
		d.VolumeType, d.Iops = types.VolumeTypeIo2, awssdk.Int32(20000)
	}
	return d
}

// image resolves the task's image_id (an AMI, or a catalog tag) or the default tag to an AMI of the region,
// and refuses a region the catalog does not list.
func (p *Provider) image(ctx context.Context, place cloud.Place, imageID string, gpu bool) (string, error) {
	cat, err := p.opts.Catalog(ctx)
	if err != nil {
		return "", err
	}
	if _, err := cat.ValidateLocation(place.Region, ""); err != nil { // zones: the VPC's subnets tell
		return "", &cloud.InvalidConfigError{Place: place, Reason: err.Error()}
	}
	if isAMI(imageID) {
		return imageID, nil
	}
	tag := imageID
	if tag == "" {
		tag = cpuImageTag
		if gpu {
			tag = gpuImageTag
		}
	}
	id, err := cat.ImageID(tag, place.Region)
	if err != nil {
		return "", &cloud.InvalidConfigError{Place: place, Reason: "image: " + err.Error()}
	}
	return id, nil
}

// zones lists the region's zones in the catalog, in its order.
func (p *Provider) zones(ctx context.Context, region string) ([]string, error) {
	cat, err := p.opts.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	zones := cat.Zones(region)
	if len(zones) == 0 {
		return []string{""}, nil // any subnet of the VPC
	}
	return zones, nil
}

// waitInstances polls the instances until done says they are all where they should be, or one is gone.
func (p *Provider) waitInstances(ctx context.Context, c *ec2.Client, place cloud.Place, ids []string, what string, done func(types.Instance) bool) ([]types.Instance, error) {
	var insts []types.Instance
	err := p.m.Poll(ctx, fmt.Sprintf("instances %s are not %s", strings.Join(ids, ", "), what), func(ctx context.Context) (bool, error) {
		var err error
		insts, err = describe(ctx, c, place, ids)
		var api smithy.APIError
		switch {
		case errors.As(err, &api) && api.ErrorCode() == "InvalidInstanceID.NotFound":
			// EC2 is eventually consistent: instances just run may not be described yet.
			insts = nil
		case err != nil:
			return false, err
		}
		ready := len(insts) == len(ids)
		for _, in := range insts {
			ready = ready && done(in)
		}
		return ready, nil
	})
	if err != nil {
		return nil, err
	}
	return insts, nil
}

// describe returns the instances in the order of ids (those EC2 still knows).
func describe(ctx context.Context, c *ec2.Client, place cloud.Place, ids []string) ([]types.Instance, error) {
	out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
	if err != nil {
		return nil, classify("describe instances", place, err)
	}
	byID := map[string]types.Instance{}
	for _, r := range out.Reservations {
		for _, in := range r.Instances {
			byID[awssdk.ToString(in.InstanceId)] = in
		}
	}
	var insts []types.Instance
	for _, id := range ids {
		if in, ok := byID[id]; ok {
			insts = append(insts, in)
		}
	}
	return insts, nil
}

// gone is the error for an instance that ended while stix waited for it: a spot instance AWS took back, or
// capacity that was not there after all.
func gone(place cloud.Place, cluster string, rank int, in types.Instance) error {
	reason := ""
	if in.StateReason != nil {
		reason = awssdk.ToString(in.StateReason.Code) + ": " + awssdk.ToString(in.StateReason.Message)
	}
	if in.InstanceLifecycle == types.InstanceLifecycleTypeSpot {
		return &cloud.PreemptedError{Place: place, Cluster: cluster, Rank: rank, Reason: "spot instance " + awssdk.ToString(in.InstanceId) + " terminated by AWS (" + reason + ")"}
	}
	return &cloud.CapacityError{Place: place, Reason: fmt.Sprintf("instance %s of node %d ended while starting (%s)", awssdk.ToString(in.InstanceId), rank, reason)}
}

// bringUp waits for the instances to run, then deploys the agent on each over SSH: the head's agent on
// loopback (reached through the SSH tunnel), the workers' on their private addresses, all TLS with the
// cluster's CA. It records the nodes in the cluster's state.
func (p *Provider) bringUp(ctx context.Context, c *ec2.Client, name string, s *state, report func(string)) (*cloud.ClusterInfo, error) {
	place := cloud.Place{Cloud: Name, Region: s.Region, Zone: s.Zone}
	var lost error
	insts, err := p.waitInstances(ctx, c, place, s.InstanceIDs, "running", func(in types.Instance) bool {
		st := in.State.Name
		if st == types.InstanceStateNameTerminated || st == types.InstanceStateNameShuttingDown {
			if lost == nil {
				lost = gone(place, name, slicesIndex(s.InstanceIDs, awssdk.ToString(in.InstanceId)), in)
			}
			return true
		}
		return st == types.InstanceStateNameRunning && awssdk.ToString(in.PrivateIpAddress) != ""
	})
	if err == nil && lost != nil {
		err = lost
	}
	if err != nil {
		return nil, err
	}
	hosts := make([]vm.Host, len(insts))
	for i, in := range insts {
		hosts[i] = vm.Host{ID: awssdk.ToString(in.InstanceId), PrivateIP: awssdk.ToString(in.PrivateIpAddress),
			PublicIP: awssdk.ToString(in.PublicIpAddress)}
	}
	return p.m.Finish(ctx, place, name, hosts, s, &s.Cluster, report,
		handle{Cluster: name, Region: s.Region, InstanceIDs: s.InstanceIDs})
}

func slicesIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
