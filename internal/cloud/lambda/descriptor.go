// Package lambda is stix's Lambda Cloud provider: instances launched through Lambda's REST API (v1) with the SSH
// key stix registers, the stix agent deployed over SSH (package vm). Files: descriptor.go and check.go
// (credentials, offline), client.go (the API, its errors typed for failover), provider.go (the provider,
// check -v, endpoints), provision.go (launch, query, terminate). Lambda cannot stop instances.
package lambda

import "github.com/stix-run/stix/internal/cloud"

// Descriptor declares Lambda: a priced cloud whose offers come from the catalog, provisioned through its API.
var Descriptor = cloud.Descriptor{
	Name:    "lambda",
	Display: "Lambda",
	Kind:    cloud.Priced,
	Check:   check,
	Catalog: true,
	New:     func(cfg cloud.Config) (cloud.Provider, error) { return New(Options{Home: cfg.Home}) },
}
