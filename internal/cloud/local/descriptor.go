package local

import (
	"context"
	"path/filepath"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/credcheck"
)

// Descriptor declares the local provider: free, and the infra of tasks that name none.
var Descriptor = cloud.Descriptor{
	Name:     Name,
	Display:  "Local",
	Kind:     cloud.Free,
	Implicit: true,
	Check:    check,
	New: func(cfg cloud.Config) (cloud.Provider, error) {
		p, err := New(Options{Root: filepath.Join(cfg.Home, "local"), Hide: cfg.Home})
		if err != nil {
			return nil, err
		}
		return p, nil
	},
}

// check: this machine is always there.
func check(context.Context, *credcheck.Env) credcheck.Result {
	return credcheck.Enabled("this machine: clusters of agent processes under the stix home")
}
