// Package fakecloud is a scripted provider for tests of the core (cluster.Manager, the failover loop): a priced
// cloud with regions and zones whose provisioning fails on cue — no capacity in a zone, no quota in a region,
// bad credentials for the whole cloud — and whose clusters can be preempted on cue. Its nodes are real: each
// cluster that comes up is a cluster of the local provider (stix-agent processes on this machine) under the
// fake's own directory, so jobs run, logs stream and stop/start/down do what they do, while the places, prices
// and failures are the script's. Tests that use it must have the stix-agent binary (nodeagent.Binary).
package fakecloud

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/cloud/local"
	"github.com/stix-run/stix/internal/transport"
)

// Place is one zone the fake offers, at a price per node-hour.
type Place struct {
	Region, Zone string
	Price        float64
}

// Fault is what a scripted provisioning attempt fails with.
type Fault int

const (
	// Capacity fails with a *cloud.CapacityError: the zone is out of capacity (the loop blocks the zone).
	Capacity Fault = iota + 1
	// Quota fails with a *cloud.QuotaError: the region's quota is used up (the loop blocks the region).
	Quota
	// Auth fails with a *cloud.AuthError: the credentials are refused (the loop blocks the cloud).
	Auth
	// Broken fails with an untyped error: not an infrastructure error, so the loop stops trying.
	Broken
)

// Rule is one line of a script: the Attempt-th provisioning attempt (1-based, counted per zone; 0 means every
// attempt) in Zone of Region (empty: any) fails with Fault.
type Rule struct {
	Region, Zone string
	Attempt      int
	Fault        Fault
}

// Options describe a fake cloud.
type Options struct {
	// Name is the cloud's name, "fake" by default.
	Name string
	// Places are its zones, in order; one zone "fake-1a" in region "fake-1" at $1/h by default.
	Places []Place
	// Script says which attempts fail; attempts no rule matches succeed.
	Script []Rule
	// CPUs and MemoryGB shape the offers (the nodes themselves are this machine); 1 CPU and 1 GB by default.
	CPUs, MemoryGB float64
	// NoStop leaves out the Stopper capability: the provider cannot stop clusters.
	NoStop bool
	// Disabled makes the credential check fail.
	Disabled bool
	// NoFUSE, when set, is the reason the provider's nodes cannot make FUSE mounts (cloud.NoFUSE).
	NoFUSE string
	// Hold, when set, is called before each provisioning attempt (1-based per cluster name) and may block until
	// ctx ends: a test holds a launch in flight with it. Its error fails the attempt.
	Hold func(ctx context.Context, cluster string, attempt int) error
}

// Provider is the scripted fake. It is safe for concurrent use.
type Provider struct {
	opts  Options
	nodes *local.Provider

	mu        sync.Mutex
	attempts  map[string]int // per region/zone
	log       []Attempt
	snapshots int
	placedAt  map[string]Place // cluster -> where its last successful attempt was
	held      map[string]int   // cluster -> provisioning attempts (Hold)
}

// Attempt is one call to Provision, as the fake saw it, with what it answered.
type Attempt struct {
	Region, Zone string
	Err          error
}

var (
	_ cloud.Provider    = (*Provider)(nil)
	_ cloud.Stopper     = (*Provider)(nil)
	_ cloud.MultiNode   = (*Provider)(nil)
	_ cloud.Spot        = (*Provider)(nil)
	_ cloud.PortOpener  = (*Provider)(nil)
	_ cloud.SelfStopper = (*Provider)(nil)
)

// Descriptor declares a fake cloud built from opts: priced, with offers of its own (not the catalog's), its
// nodes under Home/fake-<name>. New gives the *Provider back to the test through built when it is not nil.
func Descriptor(opts Options, built **Provider) cloud.Descriptor {
	opts = withDefaults(opts)
	return cloud.Descriptor{
		Name:    opts.Name,
		Display: opts.Name,
		Kind:    cloud.Priced,
		Check: func(context.Context, *credcheck.Env) credcheck.Result {
			if opts.Disabled {
				return credcheck.Disabled("the script disables %s", opts.Name)
			}
			return credcheck.Enabled("scripted")
		},
		New: func(cfg cloud.Config) (cloud.Provider, error) {
			p, err := New(filepath.Join(cfg.Home, "fake-"+opts.Name), opts)
			if err != nil {
				return nil, err
			}
			if built != nil {
				*built = p
			}
			if opts.NoStop {
				return noStop{p}, nil
			}
			if opts.NoFUSE != "" {
				return noFUSE{p}, nil
			}
			return p, nil
		},
	}
}

// noStop is the fake with every capability but Stopper.
type noStop struct{ p *Provider }

func (n noStop) Name() string                                        { return n.p.Name() }
func (n noStop) Offers(ctx context.Context) (cloud.OfferFunc, error) { return n.p.Offers(ctx) }
func (n noStop) Provision(ctx context.Context, req cloud.ProvisionRequest) (*cloud.ClusterInfo, error) {
	return n.p.Provision(ctx, req)
}
func (n noStop) Query(ctx context.Context, ref cloud.ClusterRef) ([]cloud.NodeState, error) {
	return n.p.Query(ctx, ref)
}
func (n noStop) Terminate(ctx context.Context, ref cloud.ClusterRef) error {
	return n.p.Terminate(ctx, ref)
}
func (n noStop) Transport(ctx context.Context, ci *cloud.ClusterInfo, rank int) (transport.Transport, error) {
	return n.p.Transport(ctx, ci, rank)
}
func (n noStop) MaxNodes() int    { return 0 }
func (n noStop) SpotPreemptible() {}
func (n noStop) OpensPorts()      {}

// noFUSE is the fake whose nodes cannot make FUSE mounts (Options.NoFUSE says why).
type noFUSE struct{ *Provider }

// NoFUSE says why the nodes cannot mount buckets.
func (n noFUSE) NoFUSE() string { return n.opts.NoFUSE }

func withDefaults(opts Options) Options {
	if opts.Name == "" {
		opts.Name = "fake"
	}
	if len(opts.Places) == 0 {
		opts.Places = []Place{{Region: opts.Name + "-1", Zone: opts.Name + "-1a", Price: 1}}
	}
	if opts.CPUs == 0 {
		opts.CPUs = 1
	}
	if opts.MemoryGB == 0 {
		opts.MemoryGB = 1
	}
	return opts
}

// New returns a fake cloud keeping its nodes under root.
func New(root string, opts Options) (*Provider, error) {
	opts = withDefaults(opts)
	nodes, err := local.New(local.Options{Root: root})
	if err != nil {
		return nil, err
	}
	return &Provider{opts: opts, nodes: nodes, attempts: map[string]int{}, placedAt: map[string]Place{}, held: map[string]int{}}, nil
}

// Name returns the cloud's name.
func (p *Provider) Name() string { return p.opts.Name }

// Offers returns one offer per place, and counts the snapshots taken (Snapshots).
func (p *Provider) Offers(context.Context) (cloud.OfferFunc, error) {
	p.mu.Lock()
	p.snapshots++
	p.mu.Unlock()
	return func(req cloud.Requirements) ([]cloud.Offer, error) {
		var out []cloud.Offer
		var why []string
		if req.CPUs.Value > p.opts.CPUs {
			why = append(why, fmt.Sprintf("%s nodes have %g CPUs", p.opts.Name, p.opts.CPUs))
		}
		if len(req.Accelerators) > 0 {
			why = append(why, p.opts.Name+" has no accelerators")
		}
		if len(why) > 0 {
			return nil, &cloud.InfeasibleError{Cloud: p.opts.Name, Reasons: why}
		}
		for _, pl := range p.opts.Places {
			if req.Region != "" && req.Region != pl.Region || req.Zone != "" && req.Zone != pl.Zone {
				continue
			}
			out = append(out, cloud.Offer{Cloud: p.opts.Name, Region: pl.Region, Zone: pl.Zone, InstanceType: "fake.small",
				Resources: cloud.Resources{CPUs: p.opts.CPUs, MemoryGB: p.opts.MemoryGB}, HourlyPrice: pl.Price, Spot: req.UseSpot})
		}
		if len(out) == 0 {
			return nil, &cloud.InfeasibleError{Cloud: p.opts.Name, Reasons: []string{p.opts.Name + " has no such region or zone"}}
		}
		return out, nil
	}, nil
}

// Snapshots counts the calls to Offers.
func (p *Provider) Snapshots() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.snapshots
}

// Attempts returns every Provision call so far, in order.
func (p *Provider) Attempts() []Attempt {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Attempt(nil), p.log...)
}

// fault returns the scripted error of this attempt at the offer's place, or nil.
func (p *Provider) fault(o cloud.Offer) error {
	key := o.Region + "/" + o.Zone
	p.attempts[key]++
	n := p.attempts[key]
	place := cloud.Place{Cloud: p.opts.Name, Region: o.Region, Zone: o.Zone}
	for _, r := range p.opts.Script {
		if r.Region != "" && r.Region != o.Region || r.Zone != "" && r.Zone != o.Zone || r.Attempt != 0 && r.Attempt != n {
			continue
		}
		switch r.Fault {
		case Capacity:
			return &cloud.CapacityError{Place: place, Reason: "scripted: no capacity"}
		case Quota:
			return &cloud.QuotaError{Place: place, Reason: "scripted: quota exceeded"}
		case Auth:
			return &cloud.AuthError{Place: place, Reason: "scripted: credentials refused"}
		case Broken:
			return fmt.Errorf("scripted: %s/%s is broken", o.Region, o.Zone)
		}
	}
	return nil
}

// Provision fails as the script says, else brings up a cluster of local nodes placed where the offer is.
func (p *Provider) Provision(ctx context.Context, req cloud.ProvisionRequest) (*cloud.ClusterInfo, error) {
	if p.opts.Hold != nil {
		p.mu.Lock()
		p.held[req.Cluster.Name]++
		n := p.held[req.Cluster.Name]
		p.mu.Unlock()
		if err := p.opts.Hold(ctx, req.Cluster.Name, n); err != nil {
			return nil, err
		}
	}
	p.mu.Lock()
	err := p.fault(req.Offer)
	p.log = append(p.log, Attempt{Region: req.Offer.Region, Zone: req.Offer.Zone, Err: err})
	if err == nil {
		p.placedAt[req.Cluster.Name] = Place{Region: req.Offer.Region, Zone: req.Offer.Zone, Price: req.Offer.HourlyPrice}
	}
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	req.Offer = cloud.Offer{}
	req.Requirements.Region, req.Requirements.Zone = "", ""
	ci, err := p.nodes.Provision(ctx, req)
	if err != nil {
		return nil, err
	}
	return p.placed(ci, req.Cluster.Name), nil
}

// placed makes a local cluster's info this cloud's, in the zone where the cluster was provisioned.
func (p *Provider) placed(ci *cloud.ClusterInfo, name string) *cloud.ClusterInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	at := p.placedAt[name]
	ci.Cloud, ci.Region, ci.Zone = p.opts.Name, at.Region, at.Zone
	return ci
}

// Preempt takes a cluster's nodes back, as a spot cloud does: its agents and jobs are gone, and Query finds no
// node left, so that `status -r` forgets the cluster.
func (p *Provider) Preempt(ctx context.Context, ref cloud.ClusterRef) error {
	return p.nodes.Terminate(ctx, ref)
}

// Query reports the nodes' states.
func (p *Provider) Query(ctx context.Context, ref cloud.ClusterRef) ([]cloud.NodeState, error) {
	return p.nodes.Query(ctx, ref)
}

// Stop stops the nodes.
func (p *Provider) Stop(ctx context.Context, ref cloud.ClusterRef) error {
	return p.nodes.Stop(ctx, ref)
}

// Start restarts the nodes.
func (p *Provider) Start(ctx context.Context, ref cloud.ClusterRef) (*cloud.ClusterInfo, error) {
	ci, err := p.nodes.Start(ctx, ref)
	if err != nil {
		return nil, err
	}
	return p.placed(ci, ref.Name), nil
}

// Terminate removes the nodes.
func (p *Provider) Terminate(ctx context.Context, ref cloud.ClusterRef) error {
	return p.nodes.Terminate(ctx, ref)
}

// Transport reaches a node.
func (p *Provider) Transport(ctx context.Context, ci *cloud.ClusterInfo, rank int) (transport.Transport, error) {
	return p.nodes.Transport(ctx, ci, rank)
}

// MaxNodes declares cloud.MultiNode.
func (p *Provider) MaxNodes() int { return 0 }

// SpotPreemptible declares cloud.Spot: Preempt takes spot nodes back on cue.
func (p *Provider) SpotPreemptible() {}

// OpensPorts declares cloud.PortOpener.
func (p *Provider) OpensPorts() {}

// SelfStopExit declares cloud.SelfStopper: the nodes are local ones, whose agents stop themselves.
func (p *Provider) SelfStopExit() cloud.NodeExit { return p.nodes.SelfStopExit() }

// SelfStopped reads the head agent's autostop mark, as the local provider does.
func (p *Provider) SelfStopped(ctx context.Context, info *cloud.ClusterInfo) (cloud.SelfStopMark, error) {
	return p.nodes.SelfStopped(ctx, info)
}
