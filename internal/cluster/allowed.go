package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/stix-run/stix/internal/config"
)

// allowance is the config's allowed_clouds, less the infra the active workspace disables, as planning applies
// it: unset allows every infra.
type allowance struct {
	config.AllowList
	workspace workspace
}

// newAllowance reads the request's allowed infra; a workspace the caller may not use is an error.
func newAllowance(ctx context.Context) (allowance, error) {
	w, err := activeWorkspace(ctx)
	return allowance{config.FromContext(ctx).AllowedList("allowed_clouds", true), w}, err
}

// ok reports whether infra name may be used; "" (a task naming no infra) always may.
func (a allowance) ok(name string) bool {
	return name == "" || a.Allows(name) && !a.disabled(name)
}

func (a allowance) disabled(name string) bool {
	return slices.Contains(a.workspace.disabled, strings.ToLower(name))
}

// check refuses a task that names infra outside allowed_clouds or disabled in the workspace.
func (a allowance) check(name string) error {
	if a.disabled(name) {
		return fmt.Errorf("infra %s is disabled in workspace %q (set at %s): launch on another infra, or use another workspace "+
			"(active_workspace)", name, a.workspace.name, a.workspace.origin)
	}
	return a.Check("infra", name)
}

// none is the error when allowed_clouds and the workspace leave no infra to plan on.
func (a allowance) none(sources int) error {
	if (a.Names == nil && a.workspace.disabled == nil) || sources > 0 {
		return nil
	}
	if a.Names == nil {
		return fmt.Errorf("no infra enabled in workspace %q: it disables %s; run `stix check` to enable another, or use another workspace",
			a.workspace.name, strings.Join(a.workspace.disabled, ", "))
	}
	return fmt.Errorf("no infra allowed by %s is enabled: run `stix check` to enable one, or widen allowed_clouds", a)
}
