// Package kubernetes declares Kubernetes to stix: its descriptor, with its credential check. It has no provider yet; the one
// that provisions there will live here and set Descriptor.New.
package kubernetes

import "github.com/stix-run/stix/internal/cloud"

// Descriptor declares Kubernetes: the user's own infra: stix checks its credentials, and cannot provision there yet (no New).
var Descriptor = cloud.Descriptor{
	Name:          "kubernetes",
	Display:       "Kubernetes",
	Aliases:       []string{"k8s"},
	Kind:          cloud.Owned,
	Check:         check,
	ContextsTitle: "Allowed contexts",
}
