package aws

import (
	"context"

	"github.com/stix-run/stix/internal/cloud"
)

var _ cloud.CredentialVerifier = (*Provider)(nil)

// verifyRegion is where `stix check -v` asks EC2 when the SDK's configuration names no region: DescribeRegions
// answers for the whole account from any region it has enabled.
const verifyRegion = "us-east-1"

// VerifyCredentials implements cloud.CredentialVerifier with Verify (one DescribeRegions) in the region of the
// SDK's configuration (AWS_REGION, the profile's region), else us-east-1.
func (p *Provider) VerifyCredentials(ctx context.Context) error {
	if _, err := p.client(ctx, verifyRegion); err != nil {
		return err
	}
	region := p.cfg.Region
	if region == "" {
		region = verifyRegion
	}
	_, err := p.Verify(ctx, region)
	return err
}
