// Package local is the provider whose nodes are this machine: a cluster of N nodes is N stix-agent processes,
// each with its own home directory under $STIX_HOME/local/<cluster>/node-<rank> and its own loopback address
// (127.x.y.z, never 127.0.0.1) as node IP. It needs no account, and it is what most end-to-end tests use.
//
// Files: provider.go (feasibility, credentials), provision.go (lifecycle), cluster.go (the on-disk record,
// ClusterInfo, transports), node.go (one node's agent), network.go (loopback addresses).
package local

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/agent/envknob"
	"github.com/stix-run/stix/internal/agent/fingerprint"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/nodeagent"
)

// Name is the provider's name.
const Name = "local"

// Region is the only region of local infra.
const Region = "local"

// Options configure the provider. Only Root is required.
type Options struct {
	// Root holds the clusters: $STIX_HOME/local.
	Root string
	// AgentBinary finds the stix-agent executable; nodeagent.Binary by default.
	AgentBinary func() (string, error)
	// Detect measures this machine; fingerprint.Detect by default.
	Detect func(ctx context.Context) (cloud.Resources, error)
	// StartTimeout bounds how long an agent may take to answer after it was started; 10s by default.
	StartTimeout time.Duration
	// Hide is what the jobs of every local node must not see but their own home: $STIX_HOME (Root by
	// default). The agents hide it in a mount namespace per job (stix-agent serve --confine-hide), unless
	// STIX_LOCAL_CONFINE=0.
	Hide string
}

// Provider runs clusters on this machine.
type Provider struct {
	root         string
	agentBinary  func() (string, error)
	detect       func(ctx context.Context) (cloud.Resources, error)
	startTimeout time.Duration
	hide         string
}

var (
	_ cloud.Provider   = (*Provider)(nil)
	_ cloud.Stopper    = (*Provider)(nil)
	_ cloud.MultiNode  = (*Provider)(nil)
	_ cloud.PortOpener = (*Provider)(nil)

	_ cloud.PortEndpoints = (*Provider)(nil)
)

// New returns the local provider keeping its clusters under opts.Root.
func New(opts Options) (*Provider, error) {
	if opts.Root == "" {
		return nil, fmt.Errorf("local provider: no root directory given")
	}
	p := &Provider{root: opts.Root, agentBinary: opts.AgentBinary, detect: opts.Detect, startTimeout: opts.StartTimeout, hide: opts.Hide}
	if p.agentBinary == nil {
		p.agentBinary = nodeagent.Binary
	}
	if p.detect == nil {
		p.detect = detectMachine
	}
	if p.hide == "" {
		p.hide = p.root
	}
	var err error
	if p.hide, err = filepath.Abs(p.hide); err != nil {
		return nil, fmt.Errorf("local provider: %w", err)
	}
	if envknob.LocalConfine.Get() == "0" {
		p.hide = ""
	}
	if p.startTimeout <= 0 {
		p.startTimeout = 10 * time.Second
	}
	return p, nil
}

// detectMachine measures this machine as the agent does, in provider terms.
func detectMachine(ctx context.Context) (cloud.Resources, error) {
	r, err := fingerprint.Detect(ctx)
	return nodeagent.Resources(r), err
}

// Name returns "local".
func (p *Provider) Name() string { return Name }

// Offers measures this machine once and returns its one offer, a node that is this whole machine, for the
// requests it fits; else an *cloud.InfeasibleError with one reason per unmet requirement.
func (p *Provider) Offers(ctx context.Context) (cloud.OfferFunc, error) {
	have, err := p.detect(ctx)
	if have.CPUs <= 0 {
		if err == nil {
			err = errors.New("no CPUs found")
		}
		return nil, fmt.Errorf("local infra: measure this machine: %w", err)
	}
	// A GPU probe that failed leaves a usable machine without GPUs; the reason shows if GPUs were asked for.
	gpuErr := err
	offer := cloud.Offer{Cloud: Name, Region: Region, InstanceType: nodeagent.InstanceType(have), Resources: have}
	return func(req cloud.Requirements) ([]cloud.Offer, error) {
		var why []string
		no := func(format string, args ...any) { why = append(why, "local infra "+fmt.Sprintf(format, args...)) }
		for _, short := range nodeagent.Shortfalls(have, gpuErr, req) {
			no("%s", short)
		}
		if short := nodeagent.MachineNodesShortfall(have, req); short != "" {
			no("%s", short)
		}
		if req.InstanceType != "" && req.InstanceType != offer.InstanceType {
			no("has no instance type %s; its only node is %s", req.InstanceType, offer.InstanceType)
		}
		if req.Region != "" && !strings.EqualFold(req.Region, Region) {
			no("has only the region %q; the task asks for %q", Region, req.Region)
		}
		if req.Zone != "" {
			no("has no zones; the task asks for %q", req.Zone)
		}
		if len(why) > 0 {
			return nil, &cloud.InfeasibleError{Cloud: Name, Reasons: why}
		}
		return []cloud.Offer{offer}, nil
	}, nil
}

// MaxNodes declares cloud.MultiNode: a cluster has as many nodes (agent processes) as the machine's capacity
// allows.
func (p *Provider) MaxNodes() int { return 0 }

// OpensPorts declares cloud.PortOpener: a job's ports listen on its node's loopback address, reachable from
// this machine as they are.
func (p *Provider) OpensPorts() {}

// Endpoints implements cloud.PortEndpoints: a job's ports listen on the head node's loopback address.
func (p *Provider) Endpoints(_ context.Context, info *cloud.ClusterInfo, ports []int) (map[int]string, error) {
	return cloud.HeadEndpoints(info, ports)
}
