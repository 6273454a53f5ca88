package lambda

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/nodeagent"
	"github.com/stix-run/stix/internal/cloud/vm"
	"github.com/stix-run/stix/internal/transport"
)

// Name is the provider's name.
const Name = "lambda"

// DefaultSSHUser is the login user of Lambda's images (Lambda Stack on Ubuntu).
const DefaultSSHUser = "ubuntu"

// SSHUserEnv overrides the login user.
const SSHUserEnv = "STIX_LAMBDA_SSH_USER"

// Options configure the provider.
type Options struct {
	// Home is stix's state directory; the provider keeps its SSH key and clusters under Home/lambda.
	Home string
	// SSHUser is the instances' login user; $STIX_LAMBDA_SSH_USER, else DefaultSSHUser, when empty.
	SSHUser string
	// AgentBinary finds the stix-agent executable; nodeagent.Binary by default.
	AgentBinary func() (string, error)
	// Catalog loads the Lambda catalog, for its regions; catalog.FromEnv's source by default.
	Catalog func(ctx context.Context) (*catalog.Cloud, error)
	// PollInterval is the longest wait between polls of the instances; 2 s by default.
	PollInterval time.Duration
	// WaitTimeout bounds each wait for instances; 10 minutes by default.
	WaitTimeout time.Duration
}

// Provider provisions clusters on Lambda Cloud: one instance per node, launched together in one region, the
// stix agent deployed over SSH. Lambda cannot stop instances, so the provider is no cloud.Stopper.
type Provider struct {
	opts Options
	m    *vm.Machines
}

// New returns the Lambda provider. It reads no credentials until it is first used.
func New(opts Options) (*Provider, error) {
	if opts.Home == "" {
		return nil, errors.New("lambda provider: no stix home directory")
	}
	if opts.SSHUser == "" {
		opts.SSHUser = os.Getenv(SSHUserEnv)
	}
	if opts.SSHUser == "" {
		opts.SSHUser = DefaultSSHUser
	}
	if opts.AgentBinary == nil {
		opts.AgentBinary = nodeagent.Binary
	}
	if opts.Catalog == nil {
		home := opts.Home
		opts.Catalog = func(ctx context.Context) (*catalog.Cloud, error) { return loadCatalog(ctx, home) }
	}
	m := &vm.Machines{Cloud: Name, Root: filepath.Join(opts.Home, Name), User: opts.SSHUser,
		PollInterval: opts.PollInterval, WaitTimeout: opts.WaitTimeout}
	return &Provider{opts: opts, m: m}, nil
}

// loadCatalog reads the Lambda catalog through the source the rest of stix uses.
func loadCatalog(ctx context.Context, home string) (*catalog.Cloud, error) {
	src, err := catalog.FromEnv(home, os.Getenv, nil)
	if err != nil {
		return nil, err
	}
	cat, err := catalog.Load(ctx, src, Name)
	if err != nil {
		return nil, err
	}
	c, ok := cat.Cloud(Name)
	if !ok {
		return nil, errors.New("the catalog has no Lambda offers (lambda/vms.csv)")
	}
	return c, nil
}

// Name returns "lambda".
func (p *Provider) Name() string { return Name }

// Offers is not how Lambda is planned: its offers come from the catalog (Descriptor.Catalog).
func (p *Provider) Offers(context.Context) (cloud.OfferFunc, error) {
	return nil, errors.New("lambda offers come from the catalog (lambda/vms.csv)")
}

// MaxNodes declares cloud.MultiNode: the instances of one launch share the region's private network.
func (p *Provider) MaxNodes() int { return 0 }

var (
	_ cloud.CredentialVerifier = (*Provider)(nil)
	_ cloud.PortEndpoints      = (*Provider)(nil)
)

// VerifyCredentials makes one cheap read-only call (list instances) with the API key, for `stix check -v`:
// nil when Lambda accepts the key, else a typed error (*cloud.AuthError for a key it rejects).
func (p *Provider) VerifyCredentials(ctx context.Context) error {
	c, err := newClient()
	if err != nil {
		return err
	}
	_, err = c.instances(ctx)
	return classify("list instances", cloud.Place{Cloud: Name}, err)
}

// Endpoints maps each port to host:port on the head's public address: Lambda gives every instance a public
// IP, and its firewall (the account's rules in Lambda's console) decides what is reachable.
func (p *Provider) Endpoints(_ context.Context, info *cloud.ClusterInfo, ports []int) (map[int]string, error) {
	return cloud.HeadEndpoints(info, ports)
}

// Transport opens an SSH connection to the node of the given rank, on its public address.
func (p *Provider) Transport(ctx context.Context, info *cloud.ClusterInfo, rank int) (transport.Transport, error) {
	return p.m.Transport(ctx, info, rank)
}
