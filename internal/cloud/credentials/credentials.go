// Package credentials finds out, without any network call, which infrastructure this machine has credentials
// for, by running the check each provider's Descriptor declares (cloud credential files and variables,
// kubeconfig contexts, SSH node pools, Slurm clusters, a reachable Docker engine, the machine itself). It is what
// `stix check` reports and caches; see docs/check.md for where each check looks and how the enabled set limits
// the optimizer.
package credentials

import (
	"context"
	"slices"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/cloud/providers"
)

// Result is the outcome of checking one infra.
type Result = credcheck.Result

// Kind says how the optimizer treats an infra (docs/check.md); each provider's Descriptor declares it.
type Kind = cloud.Kind

// The kinds of infra.
const (
	Priced = cloud.Priced
	Owned  = cloud.Owned
	Free   = cloud.Free
)

// Names lists the canonical infra names in check order.
func Names() []string {
	ds := providers.Descriptors()
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Name
	}
	return out
}

// describe returns the descriptor of an infra name or alias, in any case.
func describe(name string) (cloud.Descriptor, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, d := range providers.Descriptors() {
		if d.Name == n || slices.Contains(d.Aliases, n) {
			return d, true
		}
	}
	return cloud.Descriptor{}, false
}

// Canonical returns the canonical name of an infra name or alias, in any case ("K8s" -> "kubernetes").
func Canonical(name string) (string, bool) {
	d, ok := describe(name)
	return d.Name, ok
}

// KindOf returns an infra's kind; names that are not canonical are Priced (every catalog cloud is).
func KindOf(name string) Kind {
	if d, ok := describe(name); ok && d.Name == name {
		return d.Kind
	}
	return Priced
}

// FreeAllowed applies the rule for free infra to an enabled set: local and docker serve tasks that do not name
// them only when no priced infra is enabled.
func FreeAllowed(enabled []string) bool {
	for _, n := range enabled {
		if KindOf(n) == Priced {
			return false
		}
	}
	return true
}

// ContextsTitle is how `stix check` titles an infra's Result.Contexts: its descriptor's ContextsTitle, else
// "Contexts".
func ContextsTitle(name string) string {
	if d, ok := describe(name); ok && d.ContextsTitle != "" {
		return d.ContextsTitle
	}
	return "Contexts"
}

// Env is where the checks look; see credcheck.Env.
type Env = credcheck.Env

// Check runs the checks of the named infra (canonical names or aliases; all of them when none is named) and
// returns their results in check order. Unknown names are skipped: validate them with Canonical first. Only the
// Docker check does I/O beyond reading files, a ping bounded by Env.DockerTimeout and ctx.
func Check(ctx context.Context, e Env, names ...string) []Result {
	want := map[string]bool{}
	for _, n := range names {
		if c, ok := Canonical(n); ok {
			want[c] = true
		}
	}
	e = e.WithDefaults()
	var out []Result
	for _, d := range providers.Descriptors() {
		if len(names) > 0 && !want[d.Name] {
			continue
		}
		r := d.Check(ctx, &e)
		r.Infra = d.Name
		out = append(out, r)
	}
	return out
}

// Enabled returns the names of the enabled results, in order.
func Enabled(results []Result) []string {
	var out []string
	for _, r := range results {
		if r.Enabled {
			out = append(out, r.Infra)
		}
	}
	return out
}
