package gcp

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/cloud/gcp/gcpauth"
	"github.com/stix-run/stix/internal/cloud/vm"
)

// Name is the provider's name.
const Name = "gcp"

// DefaultSSHUser is the login user stix puts in the instances' ssh-keys metadata, as SkyPilot's gcpuser.
const DefaultSSHUser = "gcpuser"

// SSHUserEnv overrides the login user.
const SSHUserEnv = "STIX_GCP_SSH_USER"

// Options configure the provider; it keeps its SSH key and clusters under Home/gcp.
type Options struct {
	vm.Options
	// Env is where credentials and the project are found, by `stix check`'s rules; the process's by default.
	Env *credcheck.Env
	// HTTPClient sends the API's and the token endpoint's requests; one with a 60 s timeout by default.
	HTTPClient *http.Client
}

// Provider provisions clusters on Compute Engine.
type Provider struct {
	opts Options
	m    *vm.Machines

	apiOnce sync.Once
	api     *api
	apiErr  error
}

// New returns the GCP provider. It reads no credentials until it is first used.
func New(opts Options) (*Provider, error) {
	m, err := opts.Machines(Name, "GCP", SSHUserEnv, DefaultSSHUser)
	if err != nil {
		return nil, err
	}
	if opts.Env == nil {
		home, _ := os.UserHomeDir()
		env := credcheck.Env{Home: home, Getenv: os.Getenv}.WithDefaults()
		opts.Env = &env
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	return &Provider{opts: opts, m: m}, nil
}

// client returns the API client for the project and credentials `stix check` finds.
func (p *Provider) client() (*api, error) {
	p.apiOnce.Do(func() {
		f, problem := gcpauth.Locate(p.opts.Env)
		if problem != "" {
			p.apiErr = &cloud.AuthError{Place: cloud.Place{Cloud: Name}, Reason: problem}
			return
		}
		ts, err := gcpauth.NewTokenSource(f.Key, p.opts.Env.Show(f.KeyPath), p.opts.Env.Var(TokenURLEnv), p.opts.HTTPClient)
		if err != nil {
			p.apiErr = err
			return
		}
		base := p.opts.Env.Var(EndpointEnv)
		if base == "" {
			base = defaultEndpoint
		}
		if u, err := url.Parse(base); err != nil || u.Scheme == "" || u.Host == "" {
			p.apiErr = fmt.Errorf("%s=%q is not a URL such as https://compute.googleapis.com/compute/v1/", EndpointEnv, base)
			return
		}
		p.api = &api{base: strings.TrimSuffix(base, "/") + "/", project: f.Project, tokens: ts, client: p.opts.HTTPClient}
	})
	return p.api, p.apiErr
}

// Name returns "gcp".
func (p *Provider) Name() string { return Name }

// Offers is not how GCP is planned: its offers come from the catalog (Descriptor.Catalog).
func (p *Provider) Offers(context.Context) (cloud.OfferFunc, error) {
	return vm.CatalogOffers(Name)
}

// MaxNodes declares cloud.MultiNode: the nodes share one zone and network.
func (p *Provider) MaxNodes() int { return 0 }

// SpotPreemptible declares cloud.Spot: spot VMs through scheduling.provisioningModel SPOT.
func (p *Provider) SpotPreemptible() {}

// OpensPorts declares cloud.PortOpener: the cluster's firewall rule opens the task's ports.
func (p *Provider) OpensPorts() {}

// CheckImage accepts Compute Engine images (projects/P/global/images/NAME or .../images/family/F) and the
// catalog's image tags (skypilot:...).
func (p *Provider) CheckImage(imageID string) error {
	if isImage(imageID) || isTag(imageID) {
		return nil
	}
	return fmt.Errorf("gcp infra runs Compute Engine images (image_id: projects/PROJECT/global/images/NAME, or a catalog tag such as skypilot:custom-gpu-ubuntu-2204); the task asks for image_id %s", imageID)
}

func isImage(id string) bool {
	return strings.HasPrefix(id, "projects/") && strings.Contains(id, "/images/")
}
func isTag(id string) bool { return strings.HasPrefix(id, "skypilot:") }

var (
	_ cloud.CredentialVerifier = (*Provider)(nil)
	_ cloud.PortEndpoints      = (*Provider)(nil)
)

// VerifyCredentials makes one cheap read-only call (the project's zones, one of them) with the credentials and
// project `stix check` finds: nil when Compute Engine accepts them, else a typed error (*cloud.AuthError for
// rejected credentials or a project they may not use).
func (p *Provider) VerifyCredentials(ctx context.Context) error {
	a, err := p.client()
	if err != nil {
		return err
	}
	var out struct{}
	err = a.do(ctx, http.MethodGet, "zones", url.Values{"maxResults": {"1"}}, nil, &out)
	return classify("list zones of project "+a.project, cloud.Place{Cloud: Name}, err)
}

// Endpoints maps each of ports to the head node's external address ("IP:port"), where the cluster's firewall
// rule lets it be reached.
func (p *Provider) Endpoints(_ context.Context, info *cloud.ClusterInfo, ports []int) (map[int]string, error) {
	return cloud.HeadEndpoints(info, ports)
}

// TokenURLEnv overrides the OAuth 2.0 token endpoint (see gcpauth.TokenURLEnv).
const TokenURLEnv = gcpauth.TokenURLEnv
