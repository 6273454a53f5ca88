// Package gcp is stix's GCP provider: Compute Engine VMs through its REST/JSON API (no Google client library),
// one firewall rule per cluster, stix's SSH key in the instances' metadata, and the stix agent deployed over SSH
// (package vm). Files: descriptor.go and check.go (credentials and project, offline, found by package gcpauth,
// which also makes the OAuth 2.0 tokens and is shared with the GCS client), api.go (the REST client, operations, errors typed for
// failover), provider.go (the provider), provision.go (launch), lifecycle.go (query, stop, start, terminate),
// autostop.go (the nodes power off; Compute Engine stops them).
package gcp

import (
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
)

// Descriptor declares GCP: a priced cloud whose offers come from the catalog, provisioned through Compute Engine.
var Descriptor = cloud.Descriptor{
	Name:    "gcp",
	Display: "GCP",
	Kind:    cloud.Priced,
	Check:   check,
	Catalog: true,
	New: func(cfg cloud.Config) (cloud.Provider, error) {
		return New(Options{Options: vm.Options{Home: cfg.Home}})
	},
}
