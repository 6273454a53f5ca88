// Package do is stix's DigitalOcean provider (SkyPilot's cloud `do`, shown as DO): droplets created through
// DigitalOcean's REST API (v2) with the SSH key stix registers, a cloud firewall per cluster for SSH and
// `resources.ports`, the stix agent deployed over SSH (package vm). Files: descriptor.go and check.go
// (credentials, offline), client.go (the API, its errors typed for failover), provider.go (the provider, check
// -v, endpoints), provision.go (launch), lifecycle.go (query, stop, start, terminate), network.go (the
// firewall), autostop.go.
package do

import "github.com/stix-run/stix/internal/cloud"

// Descriptor declares DigitalOcean: a priced cloud whose offers come from the catalog (`do/vms.csv`),
// provisioned through its API.
var Descriptor = cloud.Descriptor{
	Name:    Name,
	Aliases: []string{"digitalocean"},
	Display: "DO",
	Kind:    cloud.Priced,
	Check:   check,
	Catalog: true,
	New:     func(cfg cloud.Config) (cloud.Provider, error) { return New(Options{Home: cfg.Home}) },
}
