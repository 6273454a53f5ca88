package lambda

import (
	"context"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
	"github.com/stix-run/stix/internal/transport"
)

// Name is the provider's name.
const Name = "lambda"

// DefaultSSHUser is the login user of Lambda's images (Lambda Stack on Ubuntu).
const DefaultSSHUser = "ubuntu"

// SSHUserEnv overrides the login user.
const SSHUserEnv = "STIX_LAMBDA_SSH_USER"

// Options configure the provider; it keeps its SSH key and clusters under Home/lambda.
type Options = vm.Options

// Provider provisions clusters on Lambda Cloud: one instance per node, launched together in one region, the
// stix agent deployed over SSH. Lambda cannot stop instances, so the provider is no cloud.Stopper.
type Provider struct {
	opts Options
	m    *vm.Machines
}

// New returns the Lambda provider. It reads no credentials until it is first used.
func New(opts Options) (*Provider, error) {
	m, err := opts.Machines(Name, "Lambda", SSHUserEnv, DefaultSSHUser)
	if err != nil {
		return nil, err
	}
	return &Provider{opts: opts, m: m}, nil
}

// Name returns "lambda".
func (p *Provider) Name() string { return Name }

// Offers is not how Lambda is planned: its offers come from the catalog (Descriptor.Catalog).
func (p *Provider) Offers(context.Context) (cloud.OfferFunc, error) {
	return vm.CatalogOffers(Name)
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
