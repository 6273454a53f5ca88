package sshpool

// The provider of `infra: ssh/<pool>`: machines the user already has, listed in ssh_node_pools.yaml, prepared by
// `stix ssh up` (measured, agent binary uploaded) and claimed by clusters one host per node. The pool takes the
// place of a region. Files: pools.go and sshconfig.go (the pools file), provider.go (feasibility), up.go
// (`ssh up`/`ssh down`), provision.go (lifecycle), node.go (one host over SSH), state.go (claims and
// measurements under $STIX_HOME/ssh).

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/nodeagent"
	"github.com/stix-run/stix/internal/config"
)

// Name is the provider's name.
const Name = "ssh"

// ProviderOptions configure the provider.
type ProviderOptions struct {
	// Root holds the provider's state: $STIX_HOME/ssh (required).
	Root string
	// PoolsFile is the node pools file: $STIX_HOME/ssh_node_pools.yaml (required).
	PoolsFile string
	// Home is the user's home, for ~ and ~/.ssh/config; empty means os.UserHomeDir.
	Home string
	// AgentBinary finds the stix-agent executable; nodeagent.Binary by default.
	AgentBinary func() (string, error)
	// StartTimeout bounds how long an agent may take to answer; nodeagent.DefaultStartTimeout by default.
	StartTimeout time.Duration
	// ConnectTimeout bounds each SSH connection's setup; the transport's default (15 s) when 0.
	ConnectTimeout time.Duration
}

// Provider runs clusters on SSH node pools.
type Provider struct {
	root, poolsFile, home string
	agentBinary           func() (string, error)
	startTimeout          time.Duration
	connectTimeout        time.Duration
}

var (
	_ cloud.Provider   = (*Provider)(nil)
	_ cloud.Stopper    = (*Provider)(nil)
	_ cloud.MultiNode  = (*Provider)(nil)
	_ cloud.PortOpener = (*Provider)(nil)

	_ cloud.PortEndpoints = (*Provider)(nil)
)

// New returns the SSH node pool provider.
func New(opts ProviderOptions) (*Provider, error) {
	if opts.Root == "" || opts.PoolsFile == "" {
		return nil, errors.New("ssh provider: Root and PoolsFile are required")
	}
	p := &Provider{root: opts.Root, poolsFile: opts.PoolsFile, home: opts.Home, agentBinary: opts.AgentBinary,
		startTimeout: opts.StartTimeout, connectTimeout: opts.ConnectTimeout}
	if p.home == "" {
		p.home, _ = os.UserHomeDir()
	}
	if p.agentBinary == nil {
		p.agentBinary = nodeagent.Binary
	}
	return p, nil
}

// ForHome returns the provider of a stix home: its state in home/ssh, the pools in poolsFile, or
// home/ssh_node_pools.yaml when poolsFile is empty.
func ForHome(home, poolsFile string) (*Provider, error) {
	if poolsFile == "" {
		poolsFile = filepath.Join(home, FileName)
	}
	return New(ProviderOptions{Root: filepath.Join(home, "ssh"), PoolsFile: poolsFile})
}

// Name returns "ssh".
func (p *Provider) Name() string { return Name }

// Pools reads the pools file.
func (p *Provider) Pools() ([]Pool, error) {
	var userName string
	if u, err := user.Current(); err == nil {
		userName = u.Username
	}
	pools, err := Load(p.poolsFile, Options{Home: p.home, DefaultUser: userName})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no SSH node pools: describe your machines in %s, then run `stix ssh up`", p.poolsFile)
	}
	return pools, err
}

// Offers reads the pools and their hosts' claims and measurements once, and offers, per pool that was brought
// up (req.Region's pool alone when set), its free hosts that fit req, when there are req.Nodes() of them. A
// named pool that is full gives a *cloud.CapacityError scoped to it, one never brought up an error saying to run
// `stix ssh up`.
func (p *Provider) Offers(ctx context.Context) (cloud.OfferFunc, error) {
	pools, poolsErr := p.Pools()
	allowed := config.FromContext(ctx).AllowedList("ssh.allowed_node_pools", false)
	var s *state
	if poolsErr == nil {
		var err error
		if s, err = p.readState(); err != nil {
			return nil, err
		}
	}
	return func(req cloud.Requirements) ([]cloud.Offer, error) {
		return feasible(pools, poolsErr, s, allowed, req)
	}, nil
}

// MaxNodes declares cloud.MultiNode: a cluster claims one host per node.
func (p *Provider) MaxNodes() int { return 0 }

// OpensPorts declares cloud.PortOpener: the hosts' ports are reachable as they are.
func (p *Provider) OpensPorts() {}

// Endpoints implements cloud.PortEndpoints: the ports listen on the head host's address, as the pool names it.
func (p *Provider) Endpoints(_ context.Context, info *cloud.ClusterInfo, ports []int) (map[int]string, error) {
	return cloud.HeadEndpoints(info, ports)
}

// feasible answers Offers from the pools file (or why it could not be read) and the state read with it.
func feasible(pools []Pool, poolsErr error, s *state, allowed config.AllowList, req cloud.Requirements) ([]cloud.Offer, error) {
	var why []string
	no := func(format string, args ...any) { why = append(why, "SSH node pools "+fmt.Sprintf(format, args...)) }
	if req.Zone != "" {
		no("have no zones; the task asks for %q", req.Zone)
		return nil, &cloud.InfeasibleError{Cloud: Name, Reasons: why}
	}
	if poolsErr != nil {
		if req.Region != "" {
			return nil, poolsErr
		}
		return nil, &cloud.InfeasibleError{Cloud: Name, Reasons: []string{poolsErr.Error()}}
	}
	if req.Region != "" {
		pool, err := Find(pools, req.Region)
		if err != nil {
			return nil, err
		}
		if err := allowed.Check("SSH node pool", pool.Name); err != nil {
			return nil, err
		}
		if s.Pools[pool.Name] == nil {
			return nil, fmt.Errorf("SSH node pool %s is not up: run `stix ssh up --infra %s`", pool.Name, pool.Name)
		}
		o, err := offer(s, pool.Name, req)
		if err != nil {
			return nil, err
		}
		return []cloud.Offer{o}, nil
	}
	var offers []cloud.Offer
	for _, pool := range pools {
		if !allowed.Allows(pool.Name) {
			no("%s is not in %s", pool.Name, allowed)
			continue
		}
		if s.Pools[pool.Name] == nil {
			no("%s is not up: run `stix ssh up --infra %s`", pool.Name, pool.Name)
			continue
		}
		o, err := offer(s, pool.Name, req)
		if err != nil {
			why = append(why, err.Error())
			continue
		}
		offers = append(offers, o)
	}
	if len(offers) == 0 {
		return nil, &cloud.InfeasibleError{Cloud: Name, Reasons: why}
	}
	return offers, nil
}

// offer is the pool's offer for req: the first req.Nodes() free hosts that fit, shaped like the smallest.
func offer(s *state, pool string, req cloud.Requirements) (cloud.Offer, error) {
	fit, free, reasons := fitting(s, pool, req)
	n := req.Nodes()
	if len(fit) < n {
		return cloud.Offer{}, &cloud.InfeasibleError{Cloud: Name, Reasons: []string{
			fmt.Sprintf("SSH node pool %s has %d host(s) that fit, the task asks for %d node(s)%s", pool, len(fit), n, reasonSuffix(reasons))}}
	}
	if len(free) < n {
		var users []string
		claims := s.claims(pool)
		for _, h := range fit {
			if c, ok := claims[h.key()]; ok && !slices.Contains(users, c) {
				users = append(users, c)
			}
		}
		return cloud.Offer{}, &cloud.CapacityError{Place: cloud.Place{Cloud: Name, Region: pool},
			Reason: fmt.Sprintf("%d of its %d fitting host(s) are free, the task asks for %d node(s); in use by %s", len(free), len(fit), n, strings.Join(users, ", "))}
	}
	r := smallest(free[:n])
	return cloud.Offer{Cloud: Name, Region: pool, InstanceType: nodeagent.InstanceType(r), Resources: r, RegionIsCluster: true}, nil
}

// fitting returns the pool's measured hosts that fit req (in pool order), those of them that no cluster
// claims, and why the others do not fit.
func fitting(s *state, pool string, req cloud.Requirements) (fit, free []hostRecord, reasons []string) {
	ps := s.Pools[pool]
	if ps == nil {
		return nil, nil, nil
	}
	claims := s.claims(pool)
	for _, h := range ps.Hosts {
		if why := misfit(h.Resources, req); why != "" {
			reasons = append(reasons, h.Name+" "+why)
			continue
		}
		fit = append(fit, h)
		if _, taken := claims[h.key()]; !taken {
			free = append(free, h)
		}
	}
	return fit, free, reasons
}

// misfit says why a host with have does not fit req; "" when it does.
func misfit(have cloud.Resources, req cloud.Requirements) string {
	if why := nodeagent.Shortfalls(have, nil, req); len(why) > 0 {
		return why[0]
	}
	if it := nodeagent.InstanceType(have); req.InstanceType != "" && req.InstanceType != it {
		return fmt.Sprintf("is %s, not %s", it, req.InstanceType)
	}
	return ""
}

func reasonSuffix(reasons []string) string {
	if len(reasons) == 0 {
		return ""
	}
	return " (" + strings.Join(reasons, "; ") + ")"
}

// smallest is what every one of hosts offers at least.
func smallest(hosts []hostRecord) cloud.Resources {
	r := cloud.Resources{CPUs: hosts[0].Resources.CPUs, MemoryGB: hosts[0].Resources.MemoryGB}
	for name, n := range hosts[0].Resources.Accelerators {
		for _, h := range hosts[1:] {
			n = min(n, nodeagent.AcceleratorCount(h.Resources.Accelerators, name))
		}
		if n > 0 {
			if r.Accelerators == nil {
				r.Accelerators = map[string]float64{}
			}
			r.Accelerators[name] = n
		}
	}
	for _, h := range hosts[1:] {
		r.CPUs = min(r.CPUs, h.Resources.CPUs)
		r.MemoryGB = min(r.MemoryGB, h.Resources.MemoryGB)
	}
	return r
}

// Shape describes measured resources for people: "2 CPUs, 7.8 GB memory, H100:8".
func Shape(r cloud.Resources) string {
	s := fmt.Sprintf("%s CPUs, %s GB memory", num(r.CPUs), num(r.MemoryGB))
	if len(r.Accelerators) > 0 {
		s += ", " + nodeagent.FormatAccelerators(r.Accelerators)
	}
	return s
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
