// Package aws is stix's AWS provider: EC2 instances in the default VPC (or aws.vpc_name), one security group
// per cluster, the SSH key pair stix manages, and the stix agent deployed over SSH (package vm). Files:
// descriptor.go and check.go (credentials, offline), provider.go (the provider and its EC2 clients), provision.go
// (launch), network.go (VPC, subnet, security group, key pair), lifecycle.go (query, stop, start, terminate),
// autostop.go (the nodes power off; EC2 stops or terminates them), errors.go (EC2's error codes as failover
// errors).
package aws

import "github.com/stix-run/stix/internal/cloud"

// Descriptor declares AWS: a priced cloud whose offers come from the catalog, provisioned through EC2.
var Descriptor = cloud.Descriptor{
	Name:    "aws",
	Display: "AWS",
	Kind:    cloud.Priced,
	Check:   check,
	Catalog: true,
	New:     func(cfg cloud.Config) (cloud.Provider, error) { return New(Options{Home: cfg.Home}) },
}
