package sshpool

import "github.com/stix-run/stix/internal/cloud"

// Descriptor declares the SSH node pool provider: the user's own machines, for the tasks that name them.
var Descriptor = cloud.Descriptor{
	Name:          Name,
	Display:       "SSH",
	Kind:          cloud.Owned,
	Check:         check,
	ContextsTitle: "SSH Node Pools",
	New: func(cfg cloud.Config) (cloud.Provider, error) {
		p, err := ForHome(cfg.Home, "")
		if err != nil {
			return nil, err
		}
		return p, nil
	},
}
