package cluster

import (
	"context"
	"fmt"

	"github.com/stix-run/stix/internal/config"
)

// allowance is the config's allowed_clouds as planning applies it: unset allows every infra.
type allowance struct{ config.AllowList }

func newAllowance(ctx context.Context) allowance {
	return allowance{config.FromContext(ctx).AllowedList("allowed_clouds", true)}
}

// none is the error when allowed_clouds leaves no infra to plan on.
func (a allowance) none(sources int) error {
	if a.Names == nil || sources > 0 {
		return nil
	}
	return fmt.Errorf("no infra allowed by %s is enabled: run `stix check` to enable one, or widen allowed_clouds", a)
}
