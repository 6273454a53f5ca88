// Package aws declares AWS to stix: its descriptor, with its credential check. It has no provider yet; the one
// that provisions there will live here and set Descriptor.New.
package aws

import "github.com/stix-run/stix/internal/cloud"

// Descriptor declares AWS: a priced cloud: stix plans on its catalog, and cannot provision there yet (no New).
var Descriptor = cloud.Descriptor{
	Name:    "aws",
	Display: "AWS",
	Kind:    cloud.Priced,
	Check:   check,
	Catalog: true,
}
