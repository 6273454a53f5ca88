package do

import (
	"context"
	"fmt"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
	"github.com/stix-run/stix/internal/transport"
)

// Name is the provider's name: SkyPilot's cloud `do`.
const Name = "do"

// DefaultSSHUser is the login user of DigitalOcean's images (root, as SkyPilot logs in).
const DefaultSSHUser = "root"

// SSHUserEnv overrides the login user.
const SSHUserEnv = "STIX_DO_SSH_USER"

// Options configure the provider; it keeps its SSH key and clusters under Home/do.
type Options = vm.Options

// Provider provisions clusters on DigitalOcean: one droplet per node, created together in one region (they
// share the region's default VPC), behind a cloud firewall of the cluster's, the stix agent deployed over SSH.
type Provider struct {
	opts Options
	m    *vm.Machines
}

// New returns the DigitalOcean provider. It reads no credentials until it is first used.
func New(opts Options) (*Provider, error) {
	m, err := opts.Machines(Name, "DO", SSHUserEnv, DefaultSSHUser)
	if err != nil {
		return nil, err
	}
	return &Provider{opts: opts, m: m}, nil
}

// Name returns "do".
func (p *Provider) Name() string { return Name }

// Offers is not how DigitalOcean is planned: its offers come from the catalog (Descriptor.Catalog).
func (p *Provider) Offers(context.Context) (cloud.OfferFunc, error) {
	return vm.CatalogOffers(Name)
}

var (
	_ cloud.Stopper            = (*Provider)(nil)
	_ cloud.MultiNode          = (*Provider)(nil)
	_ cloud.PortOpener         = (*Provider)(nil)
	_ cloud.CustomImages       = (*Provider)(nil)
	_ cloud.CredentialVerifier = (*Provider)(nil)
	_ cloud.PortEndpoints      = (*Provider)(nil)
)

// MaxNodes declares cloud.MultiNode: the droplets of one region share its default VPC.
func (p *Provider) MaxNodes() int { return 0 }

// OpensPorts declares cloud.PortOpener: the cluster's firewall opens the task's ports.
func (p *Provider) OpensPorts() {}

// CheckImage accepts DigitalOcean images, by slug (ubuntu-22-04-x64) or numeric id; containers (docker:) are
// not run on droplets yet.
func (p *Provider) CheckImage(imageID string) error {
	if imageID == "" || strings.HasPrefix(imageID, "docker:") || strings.ContainsAny(imageID, " /?#") {
		return fmt.Errorf("DO infra runs DigitalOcean images (image_id: a slug such as ubuntu-22-04-x64, or an image's numeric id); the task asks for image_id %s", imageID)
	}
	return nil
}

// VerifyCredentials makes one cheap read-only call (GET /v2/account) with the token, for `stix check -v`: nil
// when DigitalOcean accepts it and the account is usable, else a typed error (*cloud.AuthError for a token it
// rejects or a locked account).
func (p *Provider) VerifyCredentials(ctx context.Context) error {
	c, err := newClient()
	if err != nil {
		return err
	}
	acct, err := c.account(ctx)
	if err != nil {
		return classify("read the account", cloud.Place{Cloud: Name}, err)
	}
	return usable(acct)
}

// usable refuses an account DigitalOcean has locked (status "locked"; "warning" still creates droplets).
func usable(a account) error {
	if a.Status == "locked" {
		return &cloud.AuthError{Place: cloud.Place{Cloud: Name}, Reason: "the DigitalOcean account is locked: " + a.StatusMsg}
	}
	return nil
}

// Endpoints maps each port to host:port on the head's public address: the cluster's firewall opens them there.
func (p *Provider) Endpoints(_ context.Context, info *cloud.ClusterInfo, ports []int) (map[int]string, error) {
	return cloud.HeadEndpoints(info, ports)
}

// Transport opens an SSH connection to the node of the given rank, on its public address.
func (p *Provider) Transport(ctx context.Context, info *cloud.ClusterInfo, rank int) (transport.Transport, error) {
	return p.m.Transport(ctx, info, rank)
}
