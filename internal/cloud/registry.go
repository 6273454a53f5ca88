package cloud

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownProvider is wrapped by Lookup's error for a name no provider has.
var ErrUnknownProvider = errors.New("unknown infra")

// Registry lists the providers stix knows, in a fixed order. It is built once, explicitly (package providers
// does it); nothing registers itself.
type Registry struct {
	byName map[string]Provider // lower-case canonical names and aliases
	order  []Provider
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{byName: map[string]Provider{}} }

// Add registers p under its Name and the given aliases ("k8s" for "kubernetes"). Names are case-insensitive;
// a name or alias that is taken already is an error.
func (r *Registry) Add(p Provider, aliases ...string) error {
	names := append([]string{p.Name()}, aliases...)
	for _, n := range names {
		key := strings.ToLower(n)
		if key == "" {
			return fmt.Errorf("register provider %q: empty name or alias", p.Name())
		}
		if _, taken := r.byName[key]; taken {
			return fmt.Errorf("register provider %q: name %q is taken", p.Name(), n)
		}
	}
	for _, n := range names {
		r.byName[strings.ToLower(n)] = p
	}
	r.order = append(r.order, p)
	return nil
}

// Lookup returns the provider called name or one of its aliases, in any case.
func (r *Registry) Lookup(name string) (Provider, error) {
	if p, ok := r.byName[strings.ToLower(strings.TrimSpace(name))]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("%w %q: known infra are %s", ErrUnknownProvider, name, strings.Join(r.Names(), ", "))
}

// Names returns the canonical names in registration order.
func (r *Registry) Names() []string {
	out := make([]string, len(r.order))
	for i, p := range r.order {
		out[i] = p.Name()
	}
	return out
}

// All returns the providers in registration order.
func (r *Registry) All() []Provider { return append([]Provider(nil), r.order...) }
