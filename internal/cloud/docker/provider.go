// Package docker is the provider whose nodes are containers on a Docker Engine (`infra: docker`): one network
// per cluster, one container per node started from `image_id: docker:<image>` or stix's node image, the stix
// agent deployed into each, ports published on the head. stop/start are container stop/start; down removes the
// containers and the network. Files: provider.go (feasibility), provision.go (lifecycle), image.go (the node
// image).
package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/stix-run/stix/internal/agent/fingerprint"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/nodeagent"
	"github.com/stix-run/stix/internal/dockerapi"
)

// Name is the provider's name.
const Name = "docker"

// Region is the only region of Docker infra: the engine stix talks to.
const Region = "docker"

// Options configure the provider; all but Home have defaults.
type Options struct {
	// Home is STIX_HOME: its hash names this home's containers and networks apart from other homes'.
	Home string
	// Client connects to the engine; the environment's (DOCKER_HOST) by default.
	Client func() (*dockerapi.Client, error)
	// AgentBinary finds the stix-agent executable; nodeagent.Binary by default.
	AgentBinary func() (string, error)
	// Detect measures the engine's machine; fingerprint.Detect by default (the engine runs here).
	Detect func(ctx context.Context) (cloud.Resources, error)
	// NodeImage is the image of tasks that name none; NodeImageTag("v1") by default.
	NodeImage string
}

// Provider runs clusters as containers.
type Provider struct {
	opts Options
	ns   string // short hash of Home, in every name and label

	once   sync.Once
	cli    *dockerapi.Client
	cliErr error
}

var (
	_ cloud.Provider     = (*Provider)(nil)
	_ cloud.Stopper      = (*Provider)(nil)
	_ cloud.MultiNode    = (*Provider)(nil)
	_ cloud.PortOpener   = (*Provider)(nil)
	_ cloud.CustomImages = (*Provider)(nil)
)

// New returns the Docker provider.
func New(opts Options) *Provider {
	if opts.Client == nil {
		opts.Client = dockerapi.FromEnv
	}
	if opts.AgentBinary == nil {
		opts.AgentBinary = nodeagent.Binary
	}
	if opts.Detect == nil {
		opts.Detect = func(ctx context.Context) (cloud.Resources, error) {
			r, err := fingerprint.Detect(ctx)
			return nodeagent.Resources(r), err
		}
	}
	if opts.NodeImage == "" {
		opts.NodeImage = NodeImageTag("v1")
	}
	return &Provider{opts: opts, ns: Namespace(opts.Home)}
}

// Namespace is the short hash of a STIX_HOME that names its containers ("stix-<ns>-<cluster>-<rank>") and labels
// them (stix.home=<ns>).
func Namespace(home string) string {
	sum := sha256.Sum256([]byte(home))
	return hex.EncodeToString(sum[:3])
}

// Name returns "docker".
func (p *Provider) Name() string { return Name }

func (p *Provider) client() (*dockerapi.Client, error) {
	p.once.Do(func() { p.cli, p.cliErr = p.opts.Client() })
	if p.cliErr != nil {
		return nil, fmt.Errorf("docker: %w", p.cliErr)
	}
	return p.cli, nil
}

// Offers measures the machine once and offers one node shape: this machine, shared by the containers. Images
// are checked at provisioning, where a missing one says how to build or load it.
func (p *Provider) Offers(ctx context.Context) (cloud.OfferFunc, error) {
	have, err := p.opts.Detect(ctx)
	if have.CPUs <= 0 {
		if err == nil {
			err = errors.New("no CPUs found")
		}
		return nil, fmt.Errorf("docker infra: measure this machine: %w", err)
	}
	gpuErr := err
	_, optsErr := runOptions(ctx)
	return func(req cloud.Requirements) ([]cloud.Offer, error) {
		var why []string
		if optsErr != nil {
			why = append(why, "docker infra cannot apply "+optsErr.Error())
		}
		for _, s := range nodeagent.Shortfalls(have, gpuErr, req) {
			why = append(why, "docker infra "+s)
		}
		if s := nodeagent.MachineNodesShortfall(have, req); s != "" {
			why = append(why, "docker infra "+s)
		}
		if req.Region != "" && !strings.EqualFold(req.Region, Region) {
			why = append(why, fmt.Sprintf("docker infra has only the region %q; the task asks for %q", Region, req.Region))
		}
		if len(why) > 0 {
			return nil, &cloud.InfeasibleError{Cloud: Name, Reasons: why}
		}
		return []cloud.Offer{{Cloud: Name, Region: Region, InstanceType: nodeagent.InstanceType(have), Resources: have}}, nil
	}, nil
}

// CheckImage declares cloud.CustomImages: nodes start from container images, `image_id: docker:<image>`.
func (p *Provider) CheckImage(imageID string) error {
	if !strings.HasPrefix(imageID, "docker:") {
		return fmt.Errorf("docker infra runs container images (image_id: docker:<image>); the task asks for %s", imageID)
	}
	return nil
}

// MaxNodes declares cloud.MultiNode: the node containers share one network per cluster.
func (p *Provider) MaxNodes() int { return 0 }

// OpensPorts declares cloud.PortOpener: the task's ports are published on the head container.
func (p *Provider) OpensPorts() {}
