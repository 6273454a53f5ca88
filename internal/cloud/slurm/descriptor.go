// Package slurm declares Slurm to stix: its descriptor, with its credential check. It has no provider yet; the one
// that provisions there will live here and set Descriptor.New.
package slurm

import "github.com/stix-run/stix/internal/cloud"

// Descriptor declares Slurm: the user's own infra: stix checks its credentials, and cannot provision there yet (no New).
var Descriptor = cloud.Descriptor{
	Name:          "slurm",
	Display:       "Slurm",
	Kind:          cloud.Owned,
	Check:         check,
	ContextsTitle: "Allowed clusters",
}
