package aws

import (
	"context"

	"github.com/stix-run/stix/internal/cloud"
)

var _ cloud.PortEndpoints = (*Provider)(nil)

// Endpoints implements cloud.PortEndpoints: the cluster's security group opens its ports on the head
// instance, reached at its public IP (its private one in a subnet without public addresses). The address is the
// one recorded when the cluster last came up: a restart records the new one.
func (p *Provider) Endpoints(_ context.Context, info *cloud.ClusterInfo, ports []int) (map[int]string, error) {
	return cloud.HeadEndpoints(info, ports)
}
