// Package providers lists every provider stix knows, by its descriptor, and builds the registry. It is the one
// place that lists them: adding a provider means writing its package (with its Descriptor) and adding its line
// to Descriptors; nothing registers itself (docs/providers.md).
package providers

import (
	"fmt"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/aws"
	"github.com/stix-run/stix/internal/cloud/azure"
	"github.com/stix-run/stix/internal/cloud/do"
	"github.com/stix-run/stix/internal/cloud/docker"
	"github.com/stix-run/stix/internal/cloud/gcp"
	"github.com/stix-run/stix/internal/cloud/kubernetes"
	"github.com/stix-run/stix/internal/cloud/lambda"
	"github.com/stix-run/stix/internal/cloud/local"
	"github.com/stix-run/stix/internal/cloud/nebius"
	"github.com/stix-run/stix/internal/cloud/paperspace"
	"github.com/stix-run/stix/internal/cloud/runpod"
	"github.com/stix-run/stix/internal/cloud/slurm"
	"github.com/stix-run/stix/internal/cloud/sshpool"
)

// Descriptors returns the descriptor of every provider, in the order `stix check` lists them.
func Descriptors() []cloud.Descriptor {
	return []cloud.Descriptor{
		aws.Descriptor,
		gcp.Descriptor,
		azure.Descriptor,
		lambda.Descriptor,
		runpod.Descriptor,
		paperspace.Descriptor,
		do.Descriptor,
		nebius.Descriptor,
		kubernetes.Descriptor,
		sshpool.Descriptor,
		slurm.Descriptor,
		docker.Descriptor,
		local.Descriptor,
	}
}

// Config is what providers need from stix's configuration.
type Config = cloud.Config

// New returns the registry of all providers, each that can provision built with cfg.
func New(cfg Config) (*cloud.Registry, error) {
	return Build(cfg, Descriptors()...)
}

// Build returns a registry of the given providers, each that can provision built with cfg: what New does with
// every descriptor, and what tests do with their own (a scripted fake beside the real ones).
func Build(cfg Config, ds ...cloud.Descriptor) (*cloud.Registry, error) {
	if cfg.Home == "" {
		return nil, fmt.Errorf("providers: no stix home directory given")
	}
	r := cloud.NewRegistry()
	for _, d := range ds {
		var p cloud.Provider
		if d.New != nil {
			var err error
			if p, err = d.New(cfg); err != nil {
				return nil, fmt.Errorf("provider %s: %w", d.Name, err)
			}
		}
		if err := r.Add(d, p); err != nil {
			return nil, err
		}
	}
	return r, nil
}
