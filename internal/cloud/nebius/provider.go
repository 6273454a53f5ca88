package nebius

import (
	"context"
	"fmt"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
	"github.com/stix-run/stix/internal/config"
	"github.com/stix-run/stix/internal/transport"
)

// Name is the provider's name: SkyPilot's cloud `nebius`.
const Name = "nebius"

// DefaultSSHUser is the user cloud-init makes with stix's key (SkyPilot's on Nebius).
const DefaultSSHUser = "ubuntu"

// SSHUserEnv overrides the login user.
const SSHUserEnv = "STIX_NEBIUS_SSH_USER"

// Options configure the provider; it keeps its SSH key and clusters under Home/nebius.
type Options = vm.Options

// Provider provisions clusters on Nebius: per node a boot disk and an instance in the region's project, on the
// project's subnet (the nodes reach each other on its private addresses), the stix agent deployed over SSH.
type Provider struct {
	opts Options
	m    *vm.Machines
}

// New returns the Nebius provider. It reads no credentials until it is first used.
func New(opts Options) (*Provider, error) {
	m, err := opts.Machines(Name, "Nebius", SSHUserEnv, DefaultSSHUser)
	if err != nil {
		return nil, err
	}
	return &Provider{opts: opts, m: m}, nil
}

// Name returns "nebius".
func (p *Provider) Name() string { return Name }

// Offers is not how Nebius is planned: its offers come from the catalog (Descriptor.Catalog).
func (p *Provider) Offers(context.Context) (cloud.OfferFunc, error) { return vm.CatalogOffers(Name) }

var (
	_ cloud.Stopper            = (*Provider)(nil)
	_ cloud.MultiNode          = (*Provider)(nil)
	_ cloud.PortOpener         = (*Provider)(nil)
	_ cloud.CustomImages       = (*Provider)(nil)
	_ cloud.CredentialVerifier = (*Provider)(nil)
	_ cloud.PortEndpoints      = (*Provider)(nil)
	_ cloud.Spot               = (*Provider)(nil)
)

// MaxNodes declares cloud.MultiNode: the instances of one project share its subnet.
func (p *Provider) MaxNodes() int { return 0 }

// OpensPorts declares cloud.PortOpener: the default security group of a Nebius network lets every port of an
// instance's public address in (SkyPilot opens nothing on Nebius either).
func (p *Provider) OpensPorts() {}

// SpotPreemptible declares cloud.Spot: use_spot makes preemptible instances (Nebius stops one it takes back).
func (p *Provider) SpotPreemptible() {}

// CheckImage accepts a Nebius image family (ubuntu22.04-cuda12, ubuntu22.04-driverless, ...) or an image's id
// (computeimage-...); containers (docker:) are not run on Nebius instances yet.
func (p *Provider) CheckImage(imageID string) error {
	if imageID == "" || strings.HasPrefix(imageID, "docker:") || strings.ContainsAny(imageID, " /?#:") {
		return fmt.Errorf("Nebius infra runs Nebius images (image_id: an image family such as ubuntu22.04-cuda12, or an image id computeimage-...); the task asks for image_id %s", imageID)
	}
	return nil
}

// VerifyCredentials makes one cheap read-only call with the credentials, for `stix check -v`: the caller's
// profile (ProfileService.Get, which needs no tenant or project). A token or key Nebius rejects, or one it
// answers with the anonymous profile, is a *cloud.AuthError.
func (p *Provider) VerifyCredentials(ctx context.Context) error {
	c, err := newClient(ctx)
	if err != nil {
		return err
	}
	place := cloud.Place{Cloud: Name}
	out, err := c.call(ctx, svcIAM, profileSvc+"Get", nil)
	if err != nil {
		return classify("read the caller's profile", place, err)
	}
	anonymous := false
	if err := walk(out, func(f field) error { anonymous = anonymous || f.num == 3; return nil }); err != nil {
		return err
	}
	if anonymous || len(out) == 0 {
		return &cloud.AuthError{Place: place, Reason: "Nebius sees the credentials as anonymous: " + credsFix}
	}
	return nil
}

// configuredProjects are the projects stix's config names per region (nebius.region_configs.REGION.project_id,
// or SkyPilot's older nebius.REGION.project_id).
func configuredProjects(ctx context.Context) map[string]string {
	out := map[string]string{}
	cfg := config.FromContext(ctx)
	for _, path := range []string{"nebius.region_configs", "nebius"} {
		v, _ := cfg.Get(path)
		regions, _ := v.(map[string]any)
		for region, rc := range regions {
			if m, ok := rc.(map[string]any); ok {
				if id, _ := m["project_id"].(string); id != "" && out[region] == "" {
					out[region] = id
				}
			}
		}
	}
	return out
}

// projectFor is the project stix makes the cluster in: the one stix's config names for the region, else the
// tenant's project in that region (Nebius makes one per region: default-project-REGION), as SkyPilot picks it.
func projectFor(ctx context.Context, c *client, region string) (string, error) {
	if id := configuredProjects(ctx)[region]; id != "" {
		return id, nil
	}
	place := cloud.Place{Cloud: Name, Region: region}
	tenant := tenantID(ctx)
	if tenant == "" {
		return "", &cloud.AuthError{Place: cloud.Place{Cloud: Name}, Reason: "no tenant id to find the project of " + region +
			" in: put it in ~/.nebius/NEBIUS_TENANT_ID.txt (`nebius iam tenant list`), or set nebius.region_configs." + region + ".project_id"}
	}
	ps, err := c.projects(ctx, tenant)
	if err != nil {
		return "", classify("list the tenant's projects", place, err)
	}
	for _, pr := range ps {
		if pr.Region == region {
			return pr.ID, nil
		}
	}
	return "", &cloud.InvalidConfigError{Place: place, Reason: "tenant " + tenant + " has no project in " + region +
		" (make one in Nebius's console, or set nebius.region_configs." + region + ".project_id)"}
}

// Endpoints maps each port to host:port on the head's public address.
func (p *Provider) Endpoints(_ context.Context, info *cloud.ClusterInfo, ports []int) (map[int]string, error) {
	return cloud.HeadEndpoints(info, ports)
}

// Transport opens an SSH connection to the node of the given rank, on its public address.
func (p *Provider) Transport(ctx context.Context, info *cloud.ClusterInfo, rank int) (transport.Transport, error) {
	return p.m.Transport(ctx, info, rank)
}

func trimmed(s string) string { return strings.TrimSpace(s) }
