package aws

import (
	"context"
	"fmt"
	"sync"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
)

// Name is the provider's name.
const Name = "aws"

// DefaultSSHUser is the login user of the Ubuntu AMIs the catalog lists.
const DefaultSSHUser = "ubuntu"

// SSHUserEnv overrides the login user, for AMIs made with another one (ec2-user on Amazon Linux).
const SSHUserEnv = "STIX_AWS_SSH_USER"

// Options configure the provider; it keeps its SSH key and clusters under Home/aws.
type Options = vm.Options

// Provider provisions clusters on EC2.
type Provider struct {
	opts Options
	m    *vm.Machines

	cfgOnce sync.Once
	cfg     awssdk.Config
	cfgErr  error
}

var (
	_ cloud.Provider     = (*Provider)(nil)
	_ cloud.Stopper      = (*Provider)(nil)
	_ cloud.MultiNode    = (*Provider)(nil)
	_ cloud.Spot         = (*Provider)(nil)
	_ cloud.PortOpener   = (*Provider)(nil)
	_ cloud.CustomImages = (*Provider)(nil)
)

// New returns the AWS provider. It reads no credentials until it is first used.
func New(opts Options) (*Provider, error) {
	m, err := opts.Machines(Name, "AWS", SSHUserEnv, DefaultSSHUser)
	if err != nil {
		return nil, err
	}
	return &Provider{opts: opts, m: m}, nil
}

// Name returns "aws".
func (p *Provider) Name() string { return Name }

// Offers is not how AWS is planned: its offers come from the catalog (Descriptor.Catalog).
func (p *Provider) Offers(context.Context) (cloud.OfferFunc, error) {
	return vm.CatalogOffers(Name)
}

// MaxNodes declares cloud.MultiNode: the nodes share one subnet.
func (p *Provider) MaxNodes() int { return 0 }

// SpotPreemptible declares cloud.Spot: spot instances through RunInstances' market options.
func (p *Provider) SpotPreemptible() {}

// OpensPorts declares cloud.PortOpener: the cluster's security group opens the task's ports.
func (p *Provider) OpensPorts() {}

// CheckImage accepts AMI ids (ami-...) and the catalog's image tags (skypilot:...).
func (p *Provider) CheckImage(imageID string) error {
	if isAMI(imageID) || isTag(imageID) {
		return nil
	}
	return fmt.Errorf("aws infra runs AMIs (image_id: ami-..., or a catalog tag such as skypilot:custom-gpu-ubuntu); the task asks for image_id %s", imageID)
}

// client returns an EC2 client for region, with credentials from the SDK's default chain (environment,
// shared files and profiles, SSO, web identity, container and instance roles). The endpoint may be overridden
// as the SDK reads it: AWS_ENDPOINT_URL_EC2 or AWS_ENDPOINT_URL.
func (p *Provider) client(ctx context.Context, region string) (*ec2.Client, error) {
	p.cfgOnce.Do(func() {
		// Loaded without the caller's deadline: the config outlives this call.
		p.cfg, p.cfgErr = awsconfig.LoadDefaultConfig(context.WithoutCancel(ctx))
	})
	if p.cfgErr != nil {
		return nil, &cloud.AuthError{Place: cloud.Place{Cloud: Name}, Reason: "load the AWS configuration", Err: p.cfgErr}
	}
	return ec2.NewFromConfig(p.cfg, func(o *ec2.Options) { o.Region = region }), nil
}

// Verify makes one cheap read-only call (DescribeRegions in region) with the credentials of the SDK's default
// chain, for `stix check -v`: nil when EC2 accepts them, else a typed error (*cloud.AuthError for rejected or
// expired credentials). It returns the regions enabled for the account.
func (p *Provider) Verify(ctx context.Context, region string) ([]string, error) {
	c, err := p.client(ctx, region)
	if err != nil {
		return nil, err
	}
	out, err := c.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	if err != nil {
		return nil, classify("describe regions", cloud.Place{Cloud: Name, Region: region}, err)
	}
	var regions []string
	for _, r := range out.Regions {
		regions = append(regions, awssdk.ToString(r.RegionName))
	}
	return regions, nil
}
