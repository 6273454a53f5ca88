// Package nebius is stix's Nebius AI Cloud provider (SkyPilot's cloud `nebius`): a boot disk and an instance
// per node, created through Nebius's gRPC API in the region's project and its subnet, with a public address and
// the SSH key in cloud-init user data, the stix agent deployed over SSH (package vm). stix speaks gRPC itself
// (grpc.go, wire.go): no SDK, nothing at init. Files: descriptor.go and check.go (credentials, offline),
// auth.go (tokens: IAM token or service account key), grpc.go and wire.go (the protocol), api.go (the services,
// errors typed for failover), provider.go (the provider, check -v, projects), provision.go (launch),
// lifecycle.go (query, stop, start, terminate), autostop.go.
package nebius

import "github.com/stix-run/stix/internal/cloud"

// Descriptor declares Nebius: a priced cloud whose offers come from the catalog (`nebius/vms.csv`), provisioned
// through its API.
var Descriptor = cloud.Descriptor{
	Name:    Name,
	Display: "Nebius",
	Kind:    cloud.Priced,
	Check:   check,
	Catalog: true,
	New:     func(cfg cloud.Config) (cloud.Provider, error) { return New(Options{Home: cfg.Home}) },
}
