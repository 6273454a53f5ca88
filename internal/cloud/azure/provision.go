package azure

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
	"github.com/stix-run/stix/internal/config"
)

// Default images. The catalog's tags (SkyPilot's) are tried first; without an image catalog the CPU and GPU
// defaults are Canonical's Ubuntu 22.04 and Microsoft's Ubuntu HPC image (NVIDIA driver and CUDA), as SkyPilot
// falls back to.
const (
	cpuImageTag     = "skypilot:custom-cpu-ubuntu-v2"
	gpuImageTag     = "skypilot:custom-gpu-ubuntu-v2"
	defaultImage    = "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest"
	defaultGPUImage = "microsoft-dsvm:ubuntu-hpc:2204:latest"
)

// state is what stix keeps of an Azure cluster, in Home/azure/clusters/NAME.json.
type state struct {
	Subscription string   `json:"subscription"`
	Region       string   `json:"region"`
	Zone         string   `json:"zone,omitempty"`
	Group        string   `json:"resource_group"`
	OwnGroup     bool     `json:"own_group,omitempty"` // stix made the group: down deletes it
	VMs          []string `json:"vms"`                 // names, rank order
	Spot         bool     `json:"spot,omitempty"`
	// Identity and IdentityClientID are the cluster's managed identity (identity.go): empty for a cluster
	// launched before stix made one, which cannot autostop.
	Identity         string `json:"identity,omitempty"`
	IdentityClientID string `json:"identity_client_id,omitempty"`
	// Autodown says that the autostop set last tears the cluster down (PrepareSelfStop), for SelfStopped.
	Autodown bool `json:"autodown,omitempty"`
	vm.Cluster
}

// handle is the cluster's Handle: enough to find its VMs without stix's state.
type handle struct {
	Cluster  string   `json:"cluster"`
	Region   string   `json:"region"`
	Group    string   `json:"resource_group"`
	OwnGroup bool     `json:"own_group,omitempty"`
	VMs      []string `json:"vms"`
}

// resourceName is what stix names the cluster's resource group and resources (nodes get -RANK): letters, digits
// and '-'; the hash keeps apart clusters whose names map to the same letters, and users.
func resourceName(cluster string) string {
	sum := sha256.Sum256([]byte(cluster + "@" + vm.UserHash()))
	base := strings.Trim(vm.LowerName(cluster, ""), "-")
	return "stix-" + base[:min(len(base), 40)] + "-" + hex.EncodeToString(sum[:4])
}

// apiZone is the zone as Azure names it ("1"): the catalog may write it "eastus-1".
func apiZone(zone string) string {
	if i := strings.LastIndexByte(zone, '-'); i >= 0 {
		return zone[i+1:]
	}
	return zone
}

func vmNames(cluster string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = nodeName(cluster, i)
	}
	return out
}

// Provision launches the cluster's VMs in the offer's region (or starts the cluster's deallocated ones), waits
// for them, and deploys the agent on each over SSH. A new cluster that fails leaves nothing behind.
func (p *Provider) Provision(ctx context.Context, req cloud.ProvisionRequest) (*cloud.ClusterInfo, error) {
	return vm.Provision(ctx, p.m, req, func(s *state) int { return len(s.VMs) },
		func(ctx context.Context, s *state) (*cloud.ClusterInfo, error) {
			return p.Start(ctx, cloud.ClusterRef{Name: req.Cluster.Name})
		},
		func(ctx context.Context) (*cloud.ClusterInfo, error) { return p.launch(ctx, req.Cluster.Name, req) })
}

// launch makes a new cluster.
func (p *Provider) launch(ctx context.Context, name string, req cloud.ProvisionRequest) (_ *cloud.ClusterInfo, err error) {
	r := req.Requirements
	region, zone := vm.First(req.Offer.Region, r.Region), vm.First(req.Offer.Zone, r.Zone)
	size := vm.First(req.Offer.InstanceType, r.InstanceType)
	spot := req.Offer.Spot || r.UseSpot
	place := cloud.Place{Cloud: Name, Region: region, Zone: zone}
	if region == "" || size == "" {
		return nil, fmt.Errorf("the offer names no region or VM size (region %q, size %q)", region, size)
	}
	ports, err := p.m.ParsePorts(r.Ports)
	if err != nil {
		return nil, err
	}
	gpu := len(req.Offer.Accelerators) > 0 || len(r.Accelerators) > 0
	image, zones, err := p.imageAndZones(ctx, place, r.ImageID, gpu)
	if err != nil {
		return nil, err
	}
	disk, err := diskType(place, size, r.DiskTier)
	if err != nil {
		return nil, err
	}
	pub, err := p.m.Prepare()
	if err != nil {
		return nil, err
	}
	c, err := p.client()
	if err != nil {
		return nil, err
	}
	configured := ""
	if v, _ := config.FromContext(ctx).Get("azure.resource_group_vm"); v != nil {
		configured, _ = v.(string)
	}
	n := r.Nodes()
	names := vmNames(name, n)

	// What is made from here on is undone when the launch fails.
	var made struct {
		group string
		own   bool
	}
	defer func() {
		if err == nil || made.group == "" {
			return
		}
		cleanup := context.WithoutCancel(ctx)
		errs := []error{p.deleteCluster(cleanup, c, place, made.group, made.own, name, names), p.m.Forget(name)}
		if cerr := errors.Join(errs...); cerr != nil {
			err = fmt.Errorf("%w (cleaning up: %v)", err, cerr)
		}
	}()

	req.Report("creating resource group, network and security group in " + region)
	if made.group, made.own, err = p.group(ctx, c, place, name, configured); err != nil {
		return nil, err
	}
	nsg, err := p.securityGroup(ctx, c, place, made.group, name, ports)
	if err != nil {
		return nil, err
	}
	subnet, err := p.network(ctx, c, place, made.group, name, nsg)
	if err != nil {
		return nil, err
	}
	req.Report("creating the cluster's managed identity (for autostop)")
	ident, err := p.makeIdentity(ctx, c, place, made.group, name)
	if err != nil {
		return nil, err
	}
	// An offer for a whole region leaves the zone to the provider: the region's zones are tried in turn, as on
	// GCP, and only when every one lacks capacity is the region ruled out.
	var short []string
	for _, z := range zones {
		place.Zone = z
		where := region
		if z != "" {
			where = region + " zone " + apiZone(z)
		}
		req.Report(fmt.Sprintf("launching %d %s VM(s) in %s", n, size, where))
		err = cloud.EachNode(ctx, n, func(ctx context.Context, rank int) error {
			nic, err := p.nic(ctx, c, place, made.group, name, subnet, rank)
			if err != nil {
				return err
			}
			body := vmBody(place, size, image, name, string(pub), p.opts.SSHUser, r.DiskSizeGB, disk, nic, spot)
			body.Identity = &armcompute.VirtualMachineIdentity{Type: to.Ptr(armcompute.ResourceIdentityTypeUserAssigned),
				UserAssignedIdentities: map[string]*armcompute.UserAssignedIdentitiesValue{ident.id: {}}}
			pl, err := c.vms.BeginCreateOrUpdate(ctx, made.group, names[rank], body, nil)
			_, err = poll(ctx, c, pl, err)
			return classify("create virtual machine "+names[rank], place, err)
		})
		var capErr *cloud.CapacityError
		if err == nil || !errors.As(err, &capErr) || zone != "" || len(zones) == 1 {
			break
		}
		req.Report(fmt.Sprintf("no capacity in %s: %s", where, capErr.Reason))
		short = append(short, apiZone(z)+": "+capErr.Reason)
		if derr := p.deleteNodes(context.WithoutCancel(ctx), c, place, made.group, names); derr != nil {
			return nil, fmt.Errorf("%w (cleaning up: %v)", err, derr)
		}
	}
	if err != nil {
		if len(short) > 1 && len(short) == len(zones) {
			place.Zone = ""
			return nil, &cloud.CapacityError{Place: place, Reason: fmt.Sprintf("no zone of %s has capacity (%s)", region, strings.Join(short, "; "))}
		}
		return nil, err
	}
	s := &state{Subscription: c.sub, Region: region, Zone: place.Zone, Group: made.group, OwnGroup: made.own, VMs: names, Spot: spot,
		Identity: ident.id, IdentityClientID: ident.clientID}
	if s.Cluster, err = vm.NewCluster(name, req.Secret); err != nil {
		return nil, err
	}
	if err := p.m.WriteState(name, s); err != nil {
		return nil, err
	}
	return p.bringUp(ctx, c, name, s, req.Report)
}

// imageAndZones resolves the task's image_id (a URN or image id, or a catalog tag) or the default image, refuses
// a region the catalog does not list, and returns the zones to try: the offer's, else the region's in the
// catalog, else none (a regional VM).
func (p *Provider) imageAndZones(ctx context.Context, place cloud.Place, imageID string, gpu bool) (string, []string, error) {
	cat, err := p.opts.Catalog(ctx)
	if err != nil {
		return "", nil, err
	}
	if _, err := cat.ValidateLocation(place.Region, place.Zone); err != nil {
		return "", nil, &cloud.InvalidConfigError{Place: place, Reason: err.Error()}
	}
	zones := []string{place.Zone}
	if place.Zone == "" {
		if zones = cat.Zones(place.Region); len(zones) == 0 {
			zones = []string{""}
		}
	}
	if imageID != "" {
		if err := p.CheckImage(imageID); err != nil {
			return "", nil, &cloud.InvalidConfigError{Place: place, Reason: err.Error()}
		}
	}
	if imageURN.MatchString(imageID) || isResourceImage(imageID) {
		return imageID, zones, nil
	}
	tag, fallback := imageID, ""
	if tag == "" {
		tag, fallback = cpuImageTag, defaultImage
		if gpu {
			tag, fallback = gpuImageTag, defaultGPUImage
		}
	}
	id, err := cat.ImageID(tag, place.Region)
	switch {
	case err == nil:
		return id, zones, nil
	case fallback != "":
		return fallback, zones, nil
	}
	return "", nil, &cloud.InvalidConfigError{Place: place, Reason: "image: " + err.Error()}
}

// diskType is the OS disk's storage account type for disk_tier, as SkyPilot maps it: low is Standard HDD,
// medium (the default) Premium SSD on sizes that take it (an "s" among the size's feature letters) and Standard
// SSD on the others; Azure has no OS disk for high or ultra.
func diskType(place cloud.Place, size, tier string) (armcompute.StorageAccountTypes, error) {
	switch strings.ToLower(tier) {
	case "low":
		return armcompute.StorageAccountTypesStandardLRS, nil
	case "", "medium", "best":
		if premium(size) {
			return armcompute.StorageAccountTypesPremiumLRS, nil
		}
		return armcompute.StorageAccountTypesStandardSSDLRS, nil
	}
	return "", &cloud.InvalidConfigError{Place: place, Reason: "disk_tier " + tier + " is not offered for Azure OS disks (use low or medium)"}
}

// premium says whether a size takes Premium SSD: its family's feature letters (after the vCPU count, before
// the version) include "s", as Standard_D2s_v5 and Standard_NC24ads_A100_v4.
func premium(size string) bool {
	rest := strings.TrimPrefix(size, "Standard_")
	part, _, _ := strings.Cut(rest, "_")
	i := strings.IndexFunc(part, func(r rune) bool { return r >= '0' && r <= '9' })
	if i < 0 {
		return false
	}
	letters := strings.TrimLeft(part[i:], "0123456789-")
	return strings.Contains(letters, "s")
}

// imageReference is the VM's image: a Marketplace URN, or a managed or gallery image id.
func imageReference(image string) *armcompute.ImageReference {
	if isResourceImage(image) {
		return &armcompute.ImageReference{ID: to.Ptr(image)}
	}
	f := strings.Split(image, ":")
	return &armcompute.ImageReference{Publisher: to.Ptr(f[0]), Offer: to.Ptr(f[1]), SKU: to.Ptr(f[2]), Version: to.Ptr(f[3])}
}

// vmBody is a node's VM: its size, image and OS disk (deleted with it), stix's SSH key for the admin user, the
// node's interface, its zone, and Spot priority (evicted VMs are deleted, disks with them, as SkyPilot's).
func vmBody(place cloud.Place, size, image, cluster, pub, user string, diskGB int, disk armcompute.StorageAccountTypes, nic string, spot bool) armcompute.VirtualMachine {
	if diskGB <= 0 {
		diskGB = 256 // SkyPilot's default disk_size
	}
	props := &armcompute.VirtualMachineProperties{
		HardwareProfile: &armcompute.HardwareProfile{VMSize: to.Ptr(armcompute.VirtualMachineSizeTypes(size))},
		StorageProfile: &armcompute.StorageProfile{ImageReference: imageReference(image), OSDisk: &armcompute.OSDisk{
			CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesFromImage), DiskSizeGB: to.Ptr(int32(diskGB)),
			DeleteOption: to.Ptr(armcompute.DiskDeleteOptionTypesDelete),
			ManagedDisk:  &armcompute.ManagedDiskParameters{StorageAccountType: to.Ptr(disk)}}},
		OSProfile: &armcompute.OSProfile{ComputerName: to.Ptr(resourceName(cluster)), AdminUsername: to.Ptr(user),
			LinuxConfiguration: &armcompute.LinuxConfiguration{DisablePasswordAuthentication: to.Ptr(true),
				SSH: &armcompute.SSHConfiguration{PublicKeys: []*armcompute.SSHPublicKey{{
					Path: to.Ptr("/home/" + user + "/.ssh/authorized_keys"), KeyData: to.Ptr(strings.TrimSpace(pub))}}}}},
		NetworkProfile: &armcompute.NetworkProfile{NetworkInterfaces: []*armcompute.NetworkInterfaceReference{{
			ID: to.Ptr(nic), Properties: &armcompute.NetworkInterfaceReferenceProperties{Primary: to.Ptr(true),
				DeleteOption: to.Ptr(armcompute.DeleteOptionsDelete)}}}},
	}
	if spot {
		props.Priority = to.Ptr(armcompute.VirtualMachinePriorityTypesSpot)
		props.EvictionPolicy = to.Ptr(armcompute.VirtualMachineEvictionPolicyTypesDelete)
		props.BillingProfile = &armcompute.BillingProfile{MaxPrice: to.Ptr(-1.0)}
	}
	v := armcompute.VirtualMachine{Location: to.Ptr(place.Region), Tags: tags(cluster), Properties: props}
	if z := apiZone(place.Zone); z != "" {
		v.Zones = []*string{to.Ptr(z)}
	}
	return v
}
