package cloud

import (
	"context"

	"github.com/stix-run/stix/internal/cloud/credcheck"
)

// Kind says how planning treats a provider's offers (docs/check.md).
type Kind int

const (
	// Priced infra charges for what it offers (AWS, GCP, ...): every enabled one is considered, cheapest first.
	Priced Kind = iota
	// Owned infra is the user's own machines (Kubernetes, SSH node pools, Slurm): it costs nothing more and is
	// used for the tasks that name it.
	Owned
	// Free infra (this machine, its Docker engine) costs nothing; tasks that name no infra use it only when no
	// priced infra is enabled.
	Free
)

func (k Kind) String() string {
	switch k {
	case Priced:
		return "priced"
	case Owned:
		return "owned"
	case Free:
		return "free"
	}
	return "unknown"
}

// Descriptor is everything stix knows about a provider: one value, declared by the provider's own package
// (local.Descriptor, aws.Descriptor) and listed once in package providers. Core code reads it, and asks the
// built Provider for the optional capabilities of capability.go; it never tests a provider's name.
type Descriptor struct {
	// Name is the canonical lower-case name, as in `infra:`, the catalog's directory and the state store.
	Name string
	// Display is how tables and messages write it ("AWS", "RunPod", "Local"): catalog.DisplayName's.
	Display string
	// Aliases are other names users type ("k8s").
	Aliases []string
	// Kind says how planning treats the offers.
	Kind Kind
	// Implicit marks free infra that serves tasks naming no infra (this machine). Other free and owned infra
	// serve only tasks that name them, so that `stix launch 'cmd'` never lands in a container by a price tie.
	Implicit bool
	// Check reports whether the provider is usable from here, for `stix check`: reading files and variables
	// only (Docker's engine ping is the one network call), with what to fix when it is not.
	Check func(ctx context.Context, env *credcheck.Env) credcheck.Result
	// ContextsTitle is how `stix check` titles the places its check lists in Result.Contexts ("Allowed
	// contexts" for Kubernetes); "Contexts" when empty.
	ContextsTitle string
	// Catalog says that the offers come from the catalog (the vms.csv of the cloud called Name): true for
	// priced clouds. Otherwise the built Provider's Offers lists them.
	Catalog bool
	// New builds the provider; nil while stix can plan on the cloud (from its catalog) but not provision there.
	New func(Config) (Provider, error)
}

// Config is what building a provider needs from stix's configuration.
type Config struct {
	// Home is stix's state directory ($STIX_HOME, ~/.stix by default), under which providers keep their state:
	// the local provider its clusters in Home/local, the ssh provider its state in Home/ssh.
	Home string
}
