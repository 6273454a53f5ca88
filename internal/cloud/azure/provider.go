package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/cloud/vm"
	"github.com/stix-run/stix/internal/lazyregexp"
)

// Name is the provider's name.
const Name = "azure"

// DefaultSSHUser is the admin user stix puts in the VMs' osProfile, as SkyPilot's azureuser.
const DefaultSSHUser = "azureuser"

// SSHUserEnv overrides the login user.
const SSHUserEnv = "STIX_AZURE_SSH_USER"

// Endpoint overrides, for tests: the Resource Manager's base URL and the Microsoft Entra authority host. Both
// must be https (the SDK sends bearer tokens over TLS only); a test CA is trusted through SSL_CERT_FILE.
const (
	EndpointEnv  = "STIX_AZURE_ENDPOINT"
	AuthorityEnv = "STIX_AZURE_AUTHORITY"
)

// Options configure the provider; it keeps its SSH key and clusters under Home/azure.
type Options struct {
	vm.Options
	// Env is where the subscription is found, by `stix check`'s rules; the process's by default.
	Env *credcheck.Env
}

// Provider provisions clusters on Azure virtual machines.
type Provider struct {
	opts Options
	m    *vm.Machines

	once sync.Once
	arm  *clients
	err  error
}

// clients are the SDK's clients for one subscription.
type clients struct {
	sub     string
	groups  *armresources.ResourceGroupsClient
	tagged  *armresources.Client
	vnets   *armnetwork.VirtualNetworksClient
	nsgs    *armnetwork.SecurityGroupsClient
	ips     *armnetwork.PublicIPAddressesClient
	nics    *armnetwork.InterfacesClient
	vms     *armcompute.VirtualMachinesClient
	pollFor time.Duration
	// raw sends the calls no SDK client of stix's makes (the managed identity and its role assignment).
	raw *arm.Client
	// principalTries and principalWait bound the retries of a role assignment for an identity Azure's directory
	// does not know yet.
	principalTries int
	principalWait  time.Duration
	// audience is Resource Manager's token audience; rootCAs, the certificates the client trusts for an
	// overridden endpoint (SSL_CERT_FILE), for the head's requests.
	audience, rootCAs string
}

var (
	_ cloud.Provider           = (*Provider)(nil)
	_ cloud.Stopper            = (*Provider)(nil)
	_ cloud.MultiNode          = (*Provider)(nil)
	_ cloud.Spot               = (*Provider)(nil)
	_ cloud.PortOpener         = (*Provider)(nil)
	_ cloud.CustomImages       = (*Provider)(nil)
	_ cloud.CredentialVerifier = (*Provider)(nil)
	_ cloud.PortEndpoints      = (*Provider)(nil)
)

// New returns the Azure provider. It reads no credentials until it is first used.
func New(opts Options) (*Provider, error) {
	m, err := opts.Machines(Name, "Azure", SSHUserEnv, DefaultSSHUser)
	if err != nil {
		return nil, err
	}
	if opts.Env == nil {
		home, _ := os.UserHomeDir()
		env := credcheck.Env{Home: home, Getenv: os.Getenv}.WithDefaults()
		opts.Env = &env
	}
	return &Provider{opts: opts, m: m}, nil
}

// Name returns "azure".
func (p *Provider) Name() string { return Name }

// Offers is not how Azure is planned: its offers come from the catalog (Descriptor.Catalog).
func (p *Provider) Offers(context.Context) (cloud.OfferFunc, error) { return vm.CatalogOffers(Name) }

// MaxNodes declares cloud.MultiNode: the nodes share one virtual network.
func (p *Provider) MaxNodes() int { return 0 }

// SpotPreemptible declares cloud.Spot: Spot priority VMs.
func (p *Provider) SpotPreemptible() {}

// OpensPorts declares cloud.PortOpener: the cluster's network security group opens the task's ports.
func (p *Provider) OpensPorts() {}

// imageURN is a Marketplace image, PUBLISHER:OFFER:SKU:VERSION, as `az vm create --image` and SkyPilot take it.
var imageURN = lazyregexp.New(`^[A-Za-z0-9._-]+:[A-Za-z0-9._-]+:[A-Za-z0-9._-]+:[A-Za-z0-9._-]+$`)

func isResourceImage(id string) bool {
	l := strings.ToLower(id)
	return strings.HasPrefix(l, "/subscriptions/") && (strings.Contains(l, "/providers/microsoft.compute/images/") ||
		strings.Contains(l, "/providers/microsoft.compute/galleries/"))
}

func isTag(id string) bool { return strings.HasPrefix(id, "skypilot:") }

// CheckImage accepts Marketplace image URNs, managed image and gallery image ids, and the catalog's tags.
func (p *Provider) CheckImage(imageID string) error {
	if imageURN.MatchString(imageID) || isResourceImage(imageID) || isTag(imageID) {
		return nil
	}
	return errors.New("azure infra runs Marketplace images (image_id: PUBLISHER:OFFER:SKU:VERSION such as " +
		defaultImage + "), managed or gallery images (/subscriptions/.../providers/Microsoft.Compute/images/NAME), or " +
		"a catalog tag such as skypilot:custom-gpu-ubuntu-v2; the task asks for image_id " + imageID)
}

// client returns the SDK clients for the subscription `stix check` finds, with the credential chain below.
func (p *Provider) client() (*clients, error) {
	p.once.Do(func() { p.arm, p.err = p.newClients() })
	return p.arm, p.err
}

func (p *Provider) newClients() (*clients, error) {
	env := p.opts.Env
	l := findLogin(env)
	if l.problem != "" {
		return nil, &cloud.AuthError{Place: cloud.Place{Cloud: Name}, Reason: l.problem}
	}
	cfg := azcloud.AzurePublic
	rootCAs := ""
	if base := env.Var(EndpointEnv); base != "" {
		if u, err := url.Parse(base); err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("%s=%q is not an https URL such as https://management.azure.com", EndpointEnv, base)
		}
		cfg = azcloud.Configuration{ActiveDirectoryAuthorityHost: cfg.ActiveDirectoryAuthorityHost,
			Services: map[azcloud.ServiceName]azcloud.ServiceConfiguration{
				azcloud.ResourceManager: {Audience: "https://management.core.windows.net/", Endpoint: base}}}
		if f := env.Var("SSL_CERT_FILE"); f != "" {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("%s is set: read SSL_CERT_FILE: %w", EndpointEnv, err)
			}
			rootCAs = string(data)
		}
	}
	if auth := env.Var(AuthorityEnv); auth != "" {
		if u, err := url.Parse(auth); err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("%s=%q is not an https URL such as https://login.microsoftonline.com/", AuthorityEnv, auth)
		}
		cfg.ActiveDirectoryAuthorityHost = strings.TrimSuffix(auth, "/") + "/"
	}
	co := azcore.ClientOptions{Cloud: cfg}
	cred, err := credential(env, l, cfg.ActiveDirectoryAuthorityHost)
	if err != nil {
		return nil, &cloud.AuthError{Place: cloud.Place{Cloud: Name}, Reason: "Azure credentials", Err: err}
	}
	opts := &arm.ClientOptions{ClientOptions: co}
	// Resource providers are registered by whoever owns the subscription, not by stix.
	opts.DisableRPRegistration = true
	opts.Retry = policy.RetryOptions{MaxRetries: 2}
	c := &clients{sub: l.sub, pollFor: time.Second, principalTries: 6, principalWait: 5 * time.Second,
		audience: cfg.Services[azcloud.ResourceManager].Audience, rootCAs: rootCAs}
	mk := []func() error{
		func() (err error) { c.groups, err = armresources.NewResourceGroupsClient(l.sub, cred, opts); return },
		func() (err error) { c.tagged, err = armresources.NewClient(l.sub, cred, opts); return },
		func() (err error) { c.vnets, err = armnetwork.NewVirtualNetworksClient(l.sub, cred, opts); return },
		func() (err error) { c.nsgs, err = armnetwork.NewSecurityGroupsClient(l.sub, cred, opts); return },
		func() (err error) { c.ips, err = armnetwork.NewPublicIPAddressesClient(l.sub, cred, opts); return },
		func() (err error) { c.nics, err = armnetwork.NewInterfacesClient(l.sub, cred, opts); return },
		func() (err error) { c.vms, err = armcompute.NewVirtualMachinesClient(l.sub, cred, opts); return },
		func() (err error) { c.raw, err = arm.NewClient("stix/azure", "v1.0.0", cred, opts); return },
	}
	for _, f := range mk {
		if err := f(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// credential is the chain stix takes, in order: a service principal's client secret in the environment
// (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_CLIENT_SECRET), else the Azure CLI's login. Certificates and
// workload identity are not supported yet (docs/azure.md).
func credential(env *credcheck.Env, l login, authority string) (azcore.TokenCredential, error) {
	if l.principal {
		if env.Var("AZURE_CLIENT_SECRET") == "" {
			return nil, errors.New("stix authenticates a service principal with AZURE_CLIENT_SECRET only; a certificate " +
				"or federated token is not supported yet (use `az login`, or a client secret)")
		}
		return &secretCredential{authority: authority, tenant: env.Var("AZURE_TENANT_ID"), clientID: env.Var("AZURE_CLIENT_ID"),
			secret: env.Var("AZURE_CLIENT_SECRET"), client: &http.Client{Timeout: time.Minute}}, nil
	}
	return &cliCredential{subscription: l.sub}, nil
}

// poll waits for a long-running operation with the SDK's poller.
func poll[T any](ctx context.Context, c *clients, pl *runtime.Poller[T], err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return pl.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: c.pollFor})
}

// VerifyCredentials makes one cheap read-only call (the subscription's resource groups, one of them) with the
// credential chain and subscription `stix check` finds: nil when Resource Manager accepts them, else a typed
// error (*cloud.AuthError for rejected or expired credentials).
func (p *Provider) VerifyCredentials(ctx context.Context) error {
	c, err := p.client()
	if err != nil {
		return err
	}
	one := int32(1)
	pager := c.groups.NewListPager(&armresources.ResourceGroupsClientListOptions{Top: &one})
	_, err = pager.NextPage(ctx)
	return classify("list resource groups of subscription "+c.sub, cloud.Place{Cloud: Name}, err)
}

// Endpoints maps each of ports to the head node's public address, where the cluster's security group lets it be
// reached.
func (p *Provider) Endpoints(_ context.Context, info *cloud.ClusterInfo, ports []int) (map[int]string, error) {
	return cloud.HeadEndpoints(info, ports)
}
