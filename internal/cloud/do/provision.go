package do

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
)

// state is what stix keeps of a DigitalOcean cluster, in Home/do/clusters/NAME.json; the droplets carry the
// cluster's tag (clusterTag), so that they are found without it.
type state struct {
	Region     string `json:"region"`
	DropletIDs []int  `json:"droplet_ids"` // rank order
	FirewallID string `json:"firewall_id,omitempty"`
	// VolumeIDs are the nodes' volumes, rank order, when disk_size asked for them.
	VolumeIDs []string `json:"volume_ids,omitempty"`
	// Autodown is what autostop was last set to do (PrepareSelfStop): delete the droplets, or power them off.
	Autodown bool `json:"autodown,omitempty"`
	vm.Cluster
}

// handle is the cluster's Handle: enough to find its droplets.
type handle struct {
	Cluster    string `json:"cluster"`
	Region     string `json:"region"`
	DropletIDs []int  `json:"droplet_ids"`
}

// label names what stix makes for the cluster on DigitalOcean: the cluster's name (its '.' and '_' made '-',
// then a hash of the name so that `a.b` and `a-b` differ) and this user's hash.
func label(cluster string) string {
	s := strings.Map(func(r rune) rune {
		if r == '.' || r == '_' {
			return '-'
		}
		return r
	}, cluster)
	if s != cluster {
		sum := sha256.Sum256([]byte(cluster))
		s += "-" + hex.EncodeToString(sum[:2])
	}
	return s + "-" + vm.UserHash()
}

// clusterTag is the tag every droplet of the cluster carries, and that its firewall applies to.
func clusterTag(cluster string) string { return "stix-cluster:" + label(cluster) }

func dropletName(cluster string, rank int) string { return label(cluster) + "-" + strconv.Itoa(rank) }

// keyName is the name stix registers its SSH key under: one per user of this machine.
func keyName() string { return "stix-" + vm.UserHash() }

// defaultImage is the image of a size when the task names none: DigitalOcean's AI/ML-ready GPU images for GPU
// droplets (as SkyPilot picks them: the 8-GPU one for 8-GPU sizes), Ubuntu 22.04 otherwise.
func defaultImage(sizeSlug string) string {
	switch {
	case strings.HasPrefix(sizeSlug, "gpu-") && strings.Contains(sizeSlug, "x8-"):
		return "gpu-h100x8-base"
	case strings.HasPrefix(sizeSlug, "gpu-"):
		return "gpu-h100x1-base"
	}
	return "ubuntu-22-04-x64"
}

// imageRef is the image as the create call takes it: a numeric id as a number, a slug as a string.
func imageRef(image string) any {
	if id, err := strconv.Atoi(image); err == nil {
		return id
	}
	return image
}

// Provision creates the cluster's droplets in the offer's region (or powers on the cluster's stopped ones),
// waits for them, and deploys the agent on each over SSH. A new cluster that fails leaves nothing behind: its
// droplets and firewall are deleted, and an SSH key registered for it.
func (p *Provider) Provision(ctx context.Context, req cloud.ProvisionRequest) (*cloud.ClusterInfo, error) {
	return vm.Provision(ctx, p.m, req, func(s *state) int { return len(s.DropletIDs) },
		func(ctx context.Context, s *state) (*cloud.ClusterInfo, error) {
			return p.Start(ctx, cloud.ClusterRef{Name: req.Cluster.Name})
		},
		func(ctx context.Context) (*cloud.ClusterInfo, error) { return p.launch(ctx, req.Cluster.Name, req) })
}

func (p *Provider) launch(ctx context.Context, name string, req cloud.ProvisionRequest) (_ *cloud.ClusterInfo, err error) {
	r := req.Requirements
	region, sizeSlug := vm.First(req.Offer.Region, r.Region), vm.First(req.Offer.InstanceType, r.InstanceType)
	place := cloud.Place{Cloud: Name, Region: region}
	if region == "" || sizeSlug == "" {
		return nil, fmt.Errorf("the offer names no region or size (region %q, size %q)", region, sizeSlug)
	}
	cat, err := p.opts.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := cat.ValidateLocation(region, ""); err != nil {
		return nil, &cloud.InvalidConfigError{Place: place, Reason: err.Error()}
	}
	ports, err := p.m.ParsePorts(r.Ports)
	if err != nil {
		return nil, err
	}
	if err := checkDiskSize(place, r.DiskSizeGB); err != nil {
		return nil, err
	}
	image := vm.First(r.ImageID, defaultImage(sizeSlug))
	if err := p.CheckImage(image); err != nil {
		return nil, &cloud.InvalidConfigError{Place: place, Reason: err.Error()}
	}
	pub, err := p.m.Prepare()
	if err != nil {
		return nil, err
	}
	c, err := newClient()
	if err != nil {
		return nil, err
	}
	n := r.Nodes()
	req.Report(fmt.Sprintf("checking %s in %s, image %s and the droplet limit", sizeSlug, region, image))
	sz, err := preflight(ctx, c, place, sizeSlug, image, n)
	if err != nil {
		return nil, err
	}
	volGB := volumeGB(r.DiskSizeGB, sz.Disk)

	// What is made from here on is undone when the launch fails.
	tag := clusterTag(name)
	var made struct {
		keyID      int
		firewallID string
		droplets   bool
		volumes    bool
	}
	defer func() {
		if err == nil {
			return
		}
		cleanup := context.WithoutCancel(ctx)
		var errs []error
		if made.droplets {
			errs = append(errs, p.deleteDroplets(cleanup, c, place, tag))
		}
		if made.volumes {
			errs = append(errs, p.deleteVolumes(cleanup, c, place, tag))
		}
		if made.firewallID != "" {
			errs = append(errs, p.deleteFirewall(cleanup, c, place, made.firewallID))
		}
		if made.keyID != 0 {
			errs = append(errs, classify("delete SSH key", place, c.deleteSSHKey(cleanup, made.keyID)))
		}
		errs = append(errs, p.m.Forget(name))
		if cerr := errors.Join(errs...); cerr != nil {
			err = fmt.Errorf("%w (cleaning up: %v)", err, cerr)
		}
	}()

	keyID, registered, err := ensureKey(ctx, c, place, string(pub))
	if err != nil {
		return nil, err
	}
	if registered {
		made.keyID = keyID
	}
	req.Report("creating the cluster's firewall")
	if made.firewallID, err = p.createFirewall(ctx, c, place, name, ports); err != nil {
		return nil, err
	}
	var ids []int
	var vols []string
	if volGB > 0 {
		req.Report(fmt.Sprintf("creating %d %d GB volume(s) in %s (disk_size %d GB; %s's own disk is %d GB)", n, volGB, region, r.DiskSizeGB, sizeSlug, sz.Disk))
		for rank := range n {
			made.volumes = true
			v, err := c.createVolume(ctx, volumeRequest{Name: volumeName(name, rank), SizeGigabytes: volGB, Region: region, FilesystemType: "ext4", Tags: []string{tag}})
			if err != nil {
				return nil, classify("create volume", place, err)
			}
			vols = append(vols, v.ID)
		}
	}
	// One create call names up to maxPerCreate droplets; a volume attaches to one droplet, so with volumes each
	// call names one.
	per, with := maxPerCreate, ""
	if len(vols) > 0 {
		per, with = 1, ", each with its volume"
	}
	req.Report(fmt.Sprintf("creating %d %s droplet(s) in %s%s", n, sizeSlug, region, with))
	for first := 0; first < n; first += per {
		cr := createRequest{Region: region, Size: sizeSlug, Image: imageRef(image), SSHKeys: []int{keyID}, Tags: []string{tag}}
		if len(vols) > 0 {
			cr.Name, cr.Volumes = dropletName(name, first), vols[first:first+1]
		} else {
			for rank := first; rank < min(n, first+per); rank++ {
				cr.Names = append(cr.Names, dropletName(name, rank))
			}
		}
		made.droplets = true
		ds, err := c.create(ctx, cr)
		if err != nil {
			return nil, classify("create droplets", place, err)
		}
		for _, d := range ds {
			ids = append(ids, d.ID)
		}
	}
	if len(ids) != n {
		return nil, fmt.Errorf("DigitalOcean created %d droplets for %d nodes", len(ids), n)
	}
	s := &state{Region: region, DropletIDs: ids, FirewallID: made.firewallID, VolumeIDs: vols}
	if s.Cluster, err = vm.NewCluster(name, req.Secret); err != nil {
		return nil, err
	}
	if err := p.m.WriteState(name, s); err != nil {
		return nil, err
	}
	return p.bringUp(ctx, c, name, s, req.Report)
}

// preflight asks DigitalOcean, before anything is made, what would make the create call fail: an account that
// is locked or whose droplet limit leaves no room for n more (the limit is the account's: it rules out the
// cloud), a size it does not have (invalid configuration) or has not in region now (capacity of the region),
// an image that does not exist (invalid configuration).
func preflight(ctx context.Context, c *client, place cloud.Place, sizeSlug, image string, n int) (size, error) {
	acct, err := c.account(ctx)
	if err != nil {
		return size{}, classify("read the account", place, err)
	}
	if err := usable(acct); err != nil {
		return size{}, err
	}
	have, err := c.dropletCount(ctx)
	if err != nil {
		return size{}, classify("count droplets", place, err)
	}
	if have+n > acct.DropletLimit {
		return size{}, &cloud.QuotaError{Place: cloud.Place{Cloud: Name}, Reason: fmt.Sprintf(
			"the account's droplet limit is %d and it has %d droplets: no room for %d more (ask DigitalOcean to raise the limit, or `stix down` other clusters)",
			acct.DropletLimit, have, n)}
	}
	sizes, err := c.sizes(ctx)
	if err != nil {
		return size{}, classify("list sizes", place, err)
	}
	i := slices.IndexFunc(sizes, func(s size) bool { return s.Slug == sizeSlug })
	switch {
	case i < 0:
		return size{}, &cloud.InvalidConfigError{Place: place, Reason: "DigitalOcean has no size " + sizeSlug + " (any more): refresh the catalog (`stix show-gpus --infra do`)"}
	case !sizes[i].Available || !slices.Contains(sizes[i].Regions, place.Region):
		return size{}, &cloud.CapacityError{Place: place, Reason: "size " + sizeSlug + " is not available in " + place.Region + " now"}
	}
	if err := c.image(ctx, image); err != nil {
		if notFound(err) {
			return size{}, &cloud.InvalidConfigError{Place: place, Reason: "image " + image + " does not exist on DigitalOcean (image_id: a slug such as ubuntu-22-04-x64, or one of your images' numeric ids; `doctl compute image list`)"}
		}
		return size{}, classify("read image "+image, place, err)
	}
	return sizes[i], nil
}

// ensureKey returns the id of stix's public key on DigitalOcean, registering it (registered true) when the
// account lacks it: DigitalOcean refuses a second key with the same public half, so a key is found by it.
func ensureKey(ctx context.Context, c *client, place cloud.Place, pub string) (id int, registered bool, err error) {
	keys, err := c.sshKeys(ctx)
	if err != nil {
		return 0, false, classify("list SSH keys", place, err)
	}
	for _, k := range keys {
		if sameKey(k.PublicKey, pub) {
			return k.ID, false, nil
		}
	}
	k, err := c.addSSHKey(ctx, keyName(), pub)
	if err != nil {
		return 0, false, classify("add SSH key", place, err)
	}
	return k.ID, true, nil
}

// sameKey compares two authorized_keys lines by type and key, ignoring comments.
func sameKey(a, b string) bool {
	fa, fb := strings.Fields(a), strings.Fields(b)
	return len(fa) >= 2 && len(fb) >= 2 && fa[0] == fb[0] && fa[1] == fb[1]
}

// bringUp waits for the droplets to be active with their addresses, then deploys the agents and records the
// nodes.
func (p *Provider) bringUp(ctx context.Context, c *client, name string, s *state, report func(string)) (*cloud.ClusterInfo, error) {
	place := cloud.Place{Cloud: Name, Region: s.Region}
	var ds []droplet
	err := p.m.Poll(ctx, "droplets "+joinIDs(s.DropletIDs)+" are not active", func(ctx context.Context) (bool, error) {
		all, err := c.tagged(ctx, clusterTag(name))
		if err != nil {
			return false, classify("list droplets", place, err)
		}
		ds = byID(all, s.DropletIDs)
		for i, d := range ds {
			switch {
			case d.ID == 0 || d.Status == "archive":
				return false, &cloud.CapacityError{Place: place, Reason: fmt.Sprintf("droplet %d of node %d ended while booting", s.DropletIDs[i], i)}
			case d.Status != "active" || d.ip("public") == "":
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	hosts := make([]vm.Host, len(ds))
	for i, d := range ds {
		hosts[i] = vm.Host{ID: strconv.Itoa(d.ID), PrivateIP: vm.First(d.ip("private"), d.ip("public")), PublicIP: d.ip("public")}
	}
	return p.m.Finish(ctx, place, name, hosts, s, &s.Cluster, report,
		handle{Cluster: name, Region: s.Region, DropletIDs: s.DropletIDs})
}

// byID returns the droplets in the order of ids; one DigitalOcean does not list is the zero droplet.
func byID(all []droplet, ids []int) []droplet { return vm.InOrder(all, ids, dropletID) }

func dropletID(d droplet) int { return d.ID }

func joinIDs(ids []int) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(id)
	}
	return strings.Join(s, ", ")
}
