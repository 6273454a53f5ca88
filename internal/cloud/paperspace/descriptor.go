// Package paperspace is stix's Paperspace provider: machines made through Paperspace's public REST API (v1, as
// SkyPilot uses it) in a private network per cluster, stix's SSH key installed by a startup script, the stix
// agent deployed over SSH (package vm). Files: descriptor.go and check.go (credentials, offline), client.go (the
// API, its errors typed for failover), provider.go (the provider, check -v, endpoints, images), provision.go
// (launch, query, terminate), lifecycle.go (stop, start) and autostop.go (the head stops or deletes its
// machines through the API).
package paperspace

import "github.com/stix-run/stix/internal/cloud"

// Descriptor declares Paperspace: a priced cloud whose offers come from the catalog, provisioned through its
// API.
var Descriptor = cloud.Descriptor{
	Name:    "paperspace",
	Display: "Paperspace",
	Kind:    cloud.Priced,
	Check:   check,
	Catalog: true,
	New:     func(cfg cloud.Config) (cloud.Provider, error) { return New(Options{Home: cfg.Home}) },
}
