// Package providers builds the registry of every provider stix knows. It is the one place that lists them:
// adding a provider means adding a line here, nothing registers itself.
package providers

import (
	"fmt"
	"path/filepath"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/docker"
	"github.com/stix-run/stix/internal/cloud/local"
	"github.com/stix-run/stix/internal/cloud/sshpool"
)

// Config is what providers need from stix's configuration.
type Config struct {
	// Home is stix's state directory ($STIX_HOME, ~/.stix by default). The local provider keeps its clusters in
	// Home/local, the ssh provider its state in Home/ssh.
	Home string
}

// New returns the registry of all providers, in the order `stix check` lists them.
func New(cfg Config) (*cloud.Registry, error) {
	if cfg.Home == "" {
		return nil, fmt.Errorf("providers: no stix home directory given")
	}
	r := cloud.NewRegistry()
	lp, err := local.New(local.Options{Root: filepath.Join(cfg.Home, "local"), Hide: cfg.Home})
	if err != nil {
		return nil, err
	}
	if err := r.Add(lp); err != nil {
		return nil, err
	}
	if err := r.Add(docker.New(docker.Options{Home: cfg.Home})); err != nil {
		return nil, err
	}
	sp, err := sshpool.ForHome(cfg.Home, "")
	if err != nil {
		return nil, err
	}
	if err := r.Add(sp); err != nil {
		return nil, err
	}
	// Later: docker, kubernetes ("k8s"), slurm, aws, gcp, azure, lambda, runpod.
	return r, nil
}
