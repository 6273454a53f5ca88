package cloud

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownProvider is wrapped by Lookup's error for a name no provider has.
var ErrUnknownProvider = errors.New("unknown infra")

// ErrNotProvisionable is wrapped by Lookup's error for a provider stix knows (it can plan on its catalog) but
// cannot provision on yet.
var ErrNotProvisionable = errors.New("stix cannot provision there yet")

// Registry lists the providers stix knows, by their descriptors, in a fixed order, with the Provider built for
// each one that can provision. It is built once, explicitly (package providers does it); nothing registers
// itself.
type Registry struct {
	byName  map[string]int // lower-case canonical names and aliases -> index in entries
	entries []entry
}

type entry struct {
	d Descriptor
	p Provider // nil when d.New is nil
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{byName: map[string]int{}} }

// Add registers a provider under its descriptor's Name and Aliases, with p built from it (nil for a provider
// stix cannot provision on yet). Names are case-insensitive; a name or alias that is taken already, or a p
// whose Name is not the descriptor's, is an error.
func (r *Registry) Add(d Descriptor, p Provider) error {
	if p != nil && p.Name() != d.Name {
		return fmt.Errorf("register provider %q: the provider calls itself %q", d.Name, p.Name())
	}
	names := append([]string{d.Name}, d.Aliases...)
	for _, n := range names {
		key := strings.ToLower(n)
		if key == "" {
			return fmt.Errorf("register provider %q: empty name or alias", d.Name)
		}
		if _, taken := r.byName[key]; taken {
			return fmt.Errorf("register provider %q: name %q is taken", d.Name, n)
		}
	}
	for _, n := range names {
		r.byName[strings.ToLower(n)] = len(r.entries)
	}
	r.entries = append(r.entries, entry{d: d, p: p})
	return nil
}

// Describe returns the descriptor of the provider called name or one of its aliases, in any case.
func (r *Registry) Describe(name string) (Descriptor, bool) {
	i, ok := r.byName[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return Descriptor{}, false
	}
	return r.entries[i].d, true
}

// Lookup returns the provider called name or one of its aliases, in any case.
func (r *Registry) Lookup(name string) (Provider, error) {
	i, ok := r.byName[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return nil, fmt.Errorf("%w %q: known infra are %s", ErrUnknownProvider, name, strings.Join(r.Names(), ", "))
	}
	if e := r.entries[i]; e.p != nil {
		return e.p, nil
	}
	return nil, fmt.Errorf("%s: %w", r.entries[i].d.Display, ErrNotProvisionable)
}

// Names returns the canonical names in registration order.
func (r *Registry) Names() []string {
	out := make([]string, len(r.entries))
	for i, e := range r.entries {
		out[i] = e.d.Name
	}
	return out
}

// Descriptors returns every descriptor in registration order.
func (r *Registry) Descriptors() []Descriptor {
	out := make([]Descriptor, len(r.entries))
	for i, e := range r.entries {
		out[i] = e.d
	}
	return out
}

// All returns the providers that can provision, in registration order.
func (r *Registry) All() []Provider {
	var out []Provider
	for _, e := range r.entries {
		if e.p != nil {
			out = append(out, e.p)
		}
	}
	return out
}
