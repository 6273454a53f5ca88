// Package gcp declares GCP to stix: its descriptor, with its credential check. It has no provider yet; the one
// that provisions there will live here and set Descriptor.New.
package gcp

import "github.com/stix-run/stix/internal/cloud"

// Descriptor declares GCP: a priced cloud: stix plans on its catalog, and cannot provision there yet (no New).
var Descriptor = cloud.Descriptor{
	Name:    "gcp",
	Display: "GCP",
	Kind:    cloud.Priced,
	Check:   check,
	Catalog: true,
}
