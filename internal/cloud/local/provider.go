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
	"net"
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

var _ cloud.Provider = (*Provider)(nil)

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

// CheckCredentials reports whether local clusters can run here: the stix-agent binary must be found and
// loopback addresses other than 127.0.0.1 must be usable (Linux has all of 127.0.0.0/8; macOS needs aliases).
func (p *Provider) CheckCredentials(ctx context.Context) (bool, string) {
	if _, err := p.agentBinary(); err != nil {
		return false, err.Error()
	}
	ip := p.subnetIP(0, 1)
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return false, fmt.Sprintf("cannot listen on loopback address %s (local nodes each get their own): %v", ip, err)
	}
	ln.Close()
	return true, ""
}

// Feasible returns the one offer of local infra, a node that is this whole machine, when req fits it; else an
// *cloud.InfeasibleError with one reason per unmet requirement.
func (p *Provider) Feasible(ctx context.Context, req cloud.Requirements) ([]cloud.Offer, error) {
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
	if req.UseSpot {
		no("has no spot instances; remove use_spot")
	}
	if req.Region != "" && !strings.EqualFold(req.Region, Region) {
		no("has only the region %q; the task asks for %q", Region, req.Region)
	}
	if req.Zone != "" {
		no("has no zones; the task asks for %q", req.Zone)
	}
	if req.ImageID != "" {
		no("runs no images; the task asks for image_id %s", req.ImageID)
	}
	if len(why) > 0 {
		return nil, &cloud.InfeasibleError{Cloud: Name, Reasons: why}
	}
	return []cloud.Offer{offer}, nil
}
