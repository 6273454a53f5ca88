// Package azure is stix's Azure provider: VMs through the official Azure SDK for Go (azcore, azidentity,
// armresources, armnetwork, armcompute), in a resource group per cluster (or azure.resource_group_vm), with a
// virtual network, a network security group opening SSH and the task's ports, a public IP and NIC per node, stix's
// SSH key in the VMs' osProfile, and the stix agent deployed over SSH (package vm). Files: descriptor.go and
// check.go (credentials and subscription, offline), provider.go (the provider, its credential and ARM clients),
// errors.go (ARM error codes as failover errors), provision.go (launch), network.go (resource group, vnet, NSG,
// public IPs, NICs), lifecycle.go (query, stop, start, terminate).
package azure

import (
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
)

// Descriptor declares Azure: a priced cloud whose offers come from the catalog, provisioned through Azure
// Resource Manager.
var Descriptor = cloud.Descriptor{
	Name:    "azure",
	Display: "Azure",
	Kind:    cloud.Priced,
	Check:   check,
	Catalog: true,
	New: func(cfg cloud.Config) (cloud.Provider, error) {
		return New(Options{Options: vm.Options{Home: cfg.Home}})
	},
}
