package docker

import "github.com/stix-run/stix/internal/cloud"

// Descriptor declares the Docker provider: free, for the tasks that name it.
var Descriptor = cloud.Descriptor{
	Name:    Name,
	Display: "Docker",
	Kind:    cloud.Free,
	Check:   check,
	New:     func(cfg cloud.Config) (cloud.Provider, error) { return New(Options{Home: cfg.Home}), nil },
}
