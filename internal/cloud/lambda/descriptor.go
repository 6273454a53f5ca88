// Package lambda declares Lambda to stix: its descriptor, with its credential check. It has no provider yet; the one
// that provisions there will live here and set Descriptor.New.
package lambda

import "github.com/stix-run/stix/internal/cloud"

// Descriptor declares Lambda: a priced cloud: stix plans on its catalog, and cannot provision there yet (no New).
var Descriptor = cloud.Descriptor{
	Name:    "lambda",
	Display: "Lambda",
	Kind:    cloud.Priced,
	Check:   check,
	Catalog: true,
}
