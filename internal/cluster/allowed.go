package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/stix-run/stix/internal/config"
)

// allowance is the config's allowed_clouds as planning applies it: nil list means every infra.
type allowance struct {
	clouds []string
	origin config.Origin
}

func newAllowance(ctx context.Context) allowance {
	cfg := config.FromContext(ctx)
	o, _ := cfg.Origin("allowed_clouds")
	return allowance{clouds: cfg.AllowedClouds(), origin: o}
}

// ok reports whether infra name may be used; "" (a task naming no infra) always may.
func (a allowance) ok(name string) bool {
	return a.clouds == nil || name == "" || slices.Contains(a.clouds, strings.ToLower(name))
}

func (a allowance) describe() string {
	return fmt.Sprintf("allowed_clouds [%s] (set at %s)", strings.Join(a.clouds, ", "), a.origin)
}

// check refuses a task that names infra outside allowed_clouds.
func (a allowance) check(name string) error {
	if a.ok(name) {
		return nil
	}
	return fmt.Errorf("infra %s is not allowed by %s: add %s to allowed_clouds, or launch on an allowed infra", name, a.describe(), name)
}

// none is the error when allowed_clouds leaves no infra to plan on.
func (a allowance) none(sources int) error {
	if a.clouds == nil || sources > 0 {
		return nil
	}
	return fmt.Errorf("no infra allowed by %s is enabled: run `stix check` to enable one, or widen allowed_clouds", a.describe())
}
