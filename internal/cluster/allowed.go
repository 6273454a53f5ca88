package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/stix-run/stix/internal/config"
)

// allowance is the config's allowed_clouds, less the infra the active workspace disables, as planning applies
// it: a nil list means every infra.
type allowance struct {
	clouds    []string
	origin    config.Origin
	workspace workspace
}

// newAllowance reads the request's allowed infra; a workspace the caller may not use is an error.
func newAllowance(ctx context.Context) (allowance, error) {
	cfg := config.FromContext(ctx)
	o, _ := cfg.Origin("allowed_clouds")
	w, err := activeWorkspace(ctx)
	return allowance{clouds: cfg.AllowedClouds(), origin: o, workspace: w}, err
}

// ok reports whether infra name may be used; "" (a task naming no infra) always may.
func (a allowance) ok(name string) bool {
	name = strings.ToLower(name)
	return name == "" || (a.clouds == nil || slices.Contains(a.clouds, name)) && !slices.Contains(a.workspace.disabled, name)
}

func (a allowance) describe() string {
	return fmt.Sprintf("allowed_clouds [%s] (set at %s)", strings.Join(a.clouds, ", "), a.origin)
}

// check refuses a task that names infra outside allowed_clouds.
func (a allowance) check(name string) error {
	if a.ok(name) {
		return nil
	}
	if slices.Contains(a.workspace.disabled, strings.ToLower(name)) {
		return fmt.Errorf("infra %s is disabled in workspace %q (set at %s): launch on another infra, or use another workspace "+
			"(active_workspace)", name, a.workspace.name, a.workspace.origin)
	}
	return fmt.Errorf("infra %s is not allowed by %s: add %s to allowed_clouds, or launch on an allowed infra", name, a.describe(), name)
}

// none is the error when allowed_clouds leaves no infra to plan on.
func (a allowance) none(sources int) error {
	if (a.clouds == nil && a.workspace.disabled == nil) || sources > 0 {
		return nil
	}
	if a.clouds == nil {
		return fmt.Errorf("no infra enabled in workspace %q: it disables %s; run `stix check` to enable another, or use another workspace",
			a.workspace.name, strings.Join(a.workspace.disabled, ", "))
	}
	return fmt.Errorf("no infra allowed by %s is enabled: run `stix check` to enable one, or widen allowed_clouds", a.describe())
}
