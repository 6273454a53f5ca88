package paperspace

import (
	"context"
	"fmt"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
	"github.com/stix-run/stix/internal/lazyregexp"
	"github.com/stix-run/stix/internal/transport"
)

// Name is the provider's name.
const Name = "paperspace"

// DefaultSSHUser is the login user of Paperspace's Linux templates.
const DefaultSSHUser = "paperspace"

// SSHUserEnv overrides the login user.
const SSHUserEnv = "STIX_PAPERSPACE_SSH_USER"

// Options configure the provider; it keeps its SSH key and clusters under Home/paperspace.
type Options = vm.Options

// Provider provisions clusters on Paperspace: one machine per node, all in one region and one private network
// made for the cluster, the stix agent deployed over SSH. Machines stop and start again (cloud.Stopper); the
// head stops or deletes them itself for autostop (autostop.go).
type Provider struct {
	opts Options
	m    *vm.Machines
}

// New returns the Paperspace provider. It reads no credentials until it is first used.
func New(opts Options) (*Provider, error) {
	m, err := opts.Machines(Name, "Paperspace", SSHUserEnv, DefaultSSHUser)
	if err != nil {
		return nil, err
	}
	return &Provider{opts: opts, m: m}, nil
}

// Name returns "paperspace".
func (p *Provider) Name() string { return Name }

// Offers is not how Paperspace is planned: its offers come from the catalog (Descriptor.Catalog).
func (p *Provider) Offers(context.Context) (cloud.OfferFunc, error) {
	return vm.CatalogOffers(Name)
}

// MaxNodes declares cloud.MultiNode: a cluster's machines share the private network made for it.
func (p *Provider) MaxNodes() int { return 0 }

// OpensPorts declares cloud.PortOpener: Paperspace does not filter its machines' public addresses, so the
// task's ports are reachable at the head's public IP with nothing to open (as SkyPilot has it).
func (p *Provider) OpensPorts() {}

// templatePattern is a Paperspace template id ("tqqsxr6b").
var templatePattern = lazyregexp.New(`^t[a-z0-9]{7}$`)

// CheckImage accepts a Paperspace template id (image_id: tqqsxr6b): the OS image a machine is made from.
func (p *Provider) CheckImage(imageID string) error {
	if templatePattern.MatchString(imageID) {
		return nil
	}
	return fmt.Errorf("paperspace infra makes machines from Paperspace templates (image_id: a template id such as tqqsxr6b, "+
		"listed by `pspace template list`); the task asks for image_id %s", imageID)
}

// Templates are the template each machine type is made from when the task names none: SkyPilot's choice
// (Ubuntu 22.04 ML-in-a-Box for H100 and A100, Ubuntu 20.04 ML-in-a-Box for the others with a GPU, Ubuntu 22.04
// Server for CPU machines), as type/template pairs.
var templates = [...][2]string{
	{"H100x8", "t7vp562h"}, {"H100", "tilqt47t"}, {"A100-80Gx8", "tvimtol9"}, {"A100-80G", "tqqsxr6b"},
}

// gpuTemplate is the template of a GPU machine type not listed in templates; cpuTemplate of a CPU one (C5-C10).
const (
	gpuTemplate = "twnlo3zj"
	cpuTemplate = "t0nspur5"
)

var cpuType = lazyregexp.New(`^C\d+$`)

// templateFor is the template of a machine of the type: the task's image_id, else the type's default.
func templateFor(machineType, imageID string) string {
	if imageID != "" {
		return imageID
	}
	for _, t := range templates {
		if t[0] == machineType {
			return t[1]
		}
	}
	if cpuType.MatchString(machineType) {
		return cpuTemplate
	}
	return gpuTemplate
}

// nvlink lists the machine types made with NVLink enabled.
func nvlink(machineType string) bool { return machineType == "H100x8" || machineType == "A100-80Gx8" }

// diskSizes are the disk sizes (GB) Paperspace makes.
var diskSizes = [...]int{100, 250, 500, 1000, 2000}

// defaultDiskGB is the disk of a task that names none (SkyPilot's 256 GB, rounded up to Paperspace's 500).
const defaultDiskGB = 256

// diskSize rounds the disk a task asks for up to a size Paperspace makes; one larger than the largest is an
// *cloud.InvalidConfigError.
func diskSize(gb int) (int, error) {
	if gb <= 0 {
		gb = defaultDiskGB
	}
	for _, s := range diskSizes {
		if gb <= s {
			return s, nil
		}
	}
	return 0, &cloud.InvalidConfigError{Place: cloud.Place{Cloud: Name}, Reason: fmt.Sprintf(
		"disk_size %d: Paperspace's largest disk is %d GB (it makes %s GB)", gb, diskSizes[len(diskSizes)-1], sizesText())}
}

func sizesText() string {
	var s []string
	for _, d := range diskSizes {
		s = append(s, fmt.Sprint(d))
	}
	return strings.Join(s, ", ")
}

var (
	_ cloud.CredentialVerifier = (*Provider)(nil)
	_ cloud.PortEndpoints      = (*Provider)(nil)
	_ cloud.Stopper            = (*Provider)(nil)
	_ cloud.CustomImages       = (*Provider)(nil)
	_ cloud.PortOpener         = (*Provider)(nil)
	_ cloud.MultiNode          = (*Provider)(nil)
)

// VerifyCredentials makes one cheap read-only call (list machines) with the API key, for `stix check -v`: nil
// when Paperspace accepts the key, else a typed error (*cloud.AuthError for a key it rejects).
func (p *Provider) VerifyCredentials(ctx context.Context) error {
	c, err := newClient()
	if err != nil {
		return err
	}
	_, err = c.machines(ctx)
	return classify("list machines", cloud.Place{Cloud: Name}, err)
}

// Endpoints maps each port to host:port on the head's public address.
func (p *Provider) Endpoints(_ context.Context, info *cloud.ClusterInfo, ports []int) (map[int]string, error) {
	return cloud.HeadEndpoints(info, ports)
}

// Transport opens an SSH connection to the node of the given rank, on its public address.
func (p *Provider) Transport(ctx context.Context, info *cloud.ClusterInfo, rank int) (transport.Transport, error) {
	return p.m.Transport(ctx, info, rank)
}
