// Package runpod is stix's RunPod provider: one pod per node created through RunPod's REST API (v1), reached over
// SSH at the pod's public IP and the port mapped to its port 22, the stix agent deployed there (package vm).
// Files: descriptor.go and check.go (credentials, offline), client.go (the API, its errors typed for failover),
// provider.go (the provider, instance types, check -v, endpoints, transport), provision.go (create, query,
// terminate).
package runpod

import "github.com/stix-run/stix/internal/cloud"

// Descriptor declares RunPod: a priced cloud whose offers come from the catalog, provisioned through its API.
var Descriptor = cloud.Descriptor{
	Name:    "runpod",
	Display: "RunPod",
	Kind:    cloud.Priced,
	Check:   check,
	Catalog: true,
	New:     func(cfg cloud.Config) (cloud.Provider, error) { return New(Options{Home: cfg.Home}) },
}
