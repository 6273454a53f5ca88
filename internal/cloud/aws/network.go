package aws

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
	"github.com/stix-run/stix/internal/config"
	"github.com/stix-run/stix/internal/lazyregexp"
)

// Tags stix puts on what it creates, so that `status -r` and terminate find them without local state.
const (
	tagCluster = "stix-cluster"
	tagUser    = "stix-user" // userHash: another user's cluster of the same name is not this one
	tagName    = "Name"
)

func filter(name string, values ...string) types.Filter {
	return types.Filter{Name: awssdk.String(name), Values: values}
}

func tags(kind types.ResourceType, cluster, name string) []types.TagSpecification {
	return []types.TagSpecification{{ResourceType: kind, Tags: []types.Tag{
		{Key: awssdk.String(tagCluster), Value: awssdk.String(cluster)},
		{Key: awssdk.String(tagUser), Value: awssdk.String(userHash())},
		{Key: awssdk.String(tagName), Value: awssdk.String(name)},
	}}}
}

// vpc returns the VPC clusters go in: the one named by aws.vpc_name (its Name tag), else the region's default.
func vpc(ctx context.Context, c *ec2.Client, place cloud.Place) (string, error) {
	var f types.Filter
	name, _ := config.FromContext(ctx).Get("aws.vpc_name")
	if s, _ := name.(string); s != "" {
		f = filter("tag:Name", s)
	} else {
		f = filter("isDefault", "true")
	}
	out, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{f}})
	if err != nil {
		return "", classify("describe VPCs", place, err)
	}
	if len(out.Vpcs) == 0 {
		if s, _ := name.(string); s != "" {
			return "", &cloud.InvalidConfigError{Place: place, Reason: fmt.Sprintf("no VPC named %q (aws.vpc_name) in region %s", s, place.Region)}
		}
		return "", &cloud.InvalidConfigError{Place: place, Reason: fmt.Sprintf(
			"region %s has no default VPC: create one (`aws ec2 create-default-vpc --region %s`) or name yours in aws.vpc_name", place.Region, place.Region)}
	}
	return awssdk.ToString(out.Vpcs[0].VpcId), nil
}

// subnet returns a subnet of the VPC in the zone (any zone when it is empty) and its zone; the default subnet
// of the zone wins, then the lowest id, so that every node of a cluster lands in the same one.
func subnet(ctx context.Context, c *ec2.Client, place cloud.Place, vpcID string) (id, zone string, err error) {
	fs := []types.Filter{filter("vpc-id", vpcID)}
	switch {
	case zoneIDPattern.MatchString(place.Zone):
		// SkyPilot's catalog names zones by ID (use1-az4), the same physical zone in every account; each
		// account maps its own zone names (us-east-1a) onto them.
		fs = append(fs, filter("availability-zone-id", place.Zone))
	case place.Zone != "":
		fs = append(fs, filter("availability-zone", place.Zone))
	}
	out, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: fs})
	if err != nil {
		return "", "", classify("describe subnets", place, err)
	}
	subnets := out.Subnets
	if len(subnets) == 0 {
		// Another zone of the region may have a subnet.
		return "", "", &cloud.CapacityError{Place: place, Reason: fmt.Sprintf("VPC %s has no subnet in zone %s", vpcID, place.Zone)}
	}
	slices.SortFunc(subnets, func(a, b types.Subnet) int {
		if da, db := awssdk.ToBool(a.DefaultForAz), awssdk.ToBool(b.DefaultForAz); da != db {
			if da {
				return -1
			}
			return 1
		}
		return strings.Compare(awssdk.ToString(a.SubnetId), awssdk.ToString(b.SubnetId))
	})
	return awssdk.ToString(subnets[0].SubnetId), awssdk.ToString(subnets[0].AvailabilityZone), nil
}

// zoneIDPattern is an availability zone ID (use1-az4), as opposed to a zone name (us-east-1a).
var zoneIDPattern = lazyregexp.New(`^[a-z]+[0-9]+-az[0-9]+$`)

// sgName is the cluster's security group.
func sgName(cluster string) string { return "stix-" + cluster + "-" + userHash() }

// securityGroup makes (or finds) the cluster's security group in the VPC: SSH and the task's ports from
// anywhere, everything between the cluster's nodes. created says it was made now.
func securityGroup(ctx context.Context, c *ec2.Client, place cloud.Place, vpcID, cluster string, ports []vm.PortRange) (id string, created bool, err error) {
	out, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{
		filter("vpc-id", vpcID), filter("group-name", sgName(cluster))}})
	if err != nil {
		return "", false, classify("describe security groups", place, err)
	}
	if len(out.SecurityGroups) > 0 {
		id = awssdk.ToString(out.SecurityGroups[0].GroupId)
	} else {
		made, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: awssdk.String(sgName(cluster)),
			Description:       awssdk.String("stix cluster " + cluster),
			VpcId:             awssdk.String(vpcID),
			TagSpecifications: tags(types.ResourceTypeSecurityGroup, cluster, sgName(cluster))})
		if err != nil {
			return "", false, classify("create security group", place, err)
		}
		id, created = awssdk.ToString(made.GroupId), true
	}
	anywhere := []types.IpRange{{CidrIp: awssdk.String("0.0.0.0/0")}}
	perms := []types.IpPermission{
		{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(22), ToPort: awssdk.Int32(22), IpRanges: anywhere},
		{IpProtocol: awssdk.String("-1"), UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: awssdk.String(id)}}},
	}
	for _, r := range ports {
		perms = append(perms, types.IpPermission{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(int32(r.From)),
			ToPort: awssdk.Int32(int32(r.To)), IpRanges: anywhere})
	}
	for _, perm := range perms {
		_, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: awssdk.String(id),
			IpPermissions: []types.IpPermission{perm}})
		var api smithy.APIError
		if err != nil && !(errors.As(err, &api) && api.ErrorCode() == "InvalidPermission.Duplicate") {
			return id, created, classify("open ports of security group "+id, place, err)
		}
	}
	return id, created, nil
}

// userHash names this user of this machine in what stix makes on AWS.
func userHash() string { return vm.UserHash() }

// keyName is the name of the key pair stix manages in every region: one per user of this machine, as
// SkyPilot's sky-key-<user hash>.
func keyName() string { return "stix-key-" + userHash() }

// keyPair makes sure the region has stix's key pair holding pub. A key pair of that name holding another key
// is refused: stix would not reach the instances started with it. imported says it was made now.
func keyPair(ctx context.Context, c *ec2.Client, place cloud.Place, name string, pub []byte) (imported bool, err error) {
	out, err := c.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{Filters: []types.Filter{filter("key-name", name)},
		IncludePublicKey: awssdk.Bool(true)})
	if err != nil {
		return false, classify("describe key pairs", place, err)
	}
	if len(out.KeyPairs) > 0 {
		have := strings.Fields(awssdk.ToString(out.KeyPairs[0].PublicKey))
		want := strings.Fields(string(pub))
		if len(have) >= 2 && have[0] == want[0] && have[1] == want[1] {
			return false, nil
		}
		return false, &cloud.InvalidConfigError{Place: place, Reason: fmt.Sprintf(
			"key pair %s in region %s holds another public key than stix's: delete it (`aws ec2 delete-key-pair --region %s --key-name %s`) and launch again",
			name, place.Region, place.Region, name)}
	}
	_, err = c.ImportKeyPair(ctx, &ec2.ImportKeyPairInput{KeyName: awssdk.String(name), PublicKeyMaterial: pub,
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeKeyPair,
			Tags: []types.Tag{{Key: awssdk.String("stix-managed"), Value: awssdk.String("true")}}}}})
	if err != nil {
		return false, classify("import key pair "+name, place, err)
	}
	return true, nil
}
