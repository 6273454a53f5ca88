package nebius

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
)

// state is what stix keeps of a Nebius cluster, in Home/nebius/clusters/NAME.json; its instances and disks
// carry the cluster's label (labelKey), so that they are found without it.
type state struct {
	Region      string   `json:"region"`
	Project     string   `json:"project"`
	InstanceIDs []string `json:"instance_ids"` // rank order
	DiskIDs     []string `json:"disk_ids"`     // the boot disks, rank order
	Spot        bool     `json:"spot,omitempty"`
	// Stopped says that stix (or autostop) stopped the instances: a preemptible one found stopped otherwise was
	// taken back.
	Stopped bool `json:"stopped,omitempty"`
	// Autodown is what autostop was last set to do (PrepareSelfStop).
	Autodown bool `json:"autodown,omitempty"`
	vm.Cluster
}

// handle is the cluster's Handle: enough to find its instances.
type handle struct {
	Cluster     string   `json:"cluster"`
	Region      string   `json:"region"`
	Project     string   `json:"project"`
	InstanceIDs []string `json:"instance_ids"`
}

// label names what stix makes for the cluster on Nebius: the cluster's name (its '.' and '_' made '-', then a
// hash of the name so that `a.b` and `a-b` differ) and this user's hash.
func label(cluster string) string {
	s := strings.Map(func(r rune) rune {
		if r == '.' || r == '_' {
			return '-'
		}
		return r
	}, strings.ToLower(cluster))
	if s != cluster {
		sum := sha256.Sum256([]byte(cluster))
		s += "-" + hex.EncodeToString(sum[:2])
	}
	return s + "-" + vm.UserHash()
}

func instanceName(cluster string, rank int) string { return label(cluster) + "-" + strconv.Itoa(rank) }

func diskName(cluster string, rank int) string { return instanceName(cluster, rank) + "-boot" }

// splitType reads a catalog instance type, PLATFORM_PRESET (gpu-h100-sxm_8gpu-128vcpu-1600gb), as SkyPilot
// writes Nebius's.
func splitType(t string) (platform, preset string, ok bool) {
	platform, preset, ok = strings.Cut(t, "_")
	return platform, preset, ok && platform != "" && preset != ""
}

// defaultImage is the image family of an instance type when the task names none: Nebius's Ubuntu 22.04 with
// CUDA 12 for GPU platforms, without drivers otherwise (as SkyPilot picks them).
func defaultImage(platform string) string {
	if strings.HasPrefix(platform, "gpu-") {
		return "ubuntu22.04-cuda12"
	}
	return "ubuntu22.04-driverless"
}

// defaultDiskGB is the boot disk's size when the task sets none (SkyPilot's default).
const defaultDiskGB = 256

// userData is the cloud-init user data that makes the login user with stix's key.
func userData(user, pub string) string {
	return "#cloud-config\nusers:\n  - name: " + user + "\n    shell: /bin/bash\n    sudo: ALL=(ALL) NOPASSWD:ALL\n" +
		"    ssh_authorized_keys:\n      - " + strings.TrimSpace(pub) + "\n"
}

// Provision creates the cluster's disks and instances in the offer's region (or starts the cluster's stopped
// ones), waits for them, and deploys the agent on each over SSH. A new cluster that fails leaves nothing
// behind: its instances and disks are deleted.
func (p *Provider) Provision(ctx context.Context, req cloud.ProvisionRequest) (*cloud.ClusterInfo, error) {
	return vm.Provision(ctx, p.m, req, func(s *state) int { return len(s.InstanceIDs) },
		func(ctx context.Context, s *state) (*cloud.ClusterInfo, error) {
			return p.Start(ctx, cloud.ClusterRef{Name: req.Cluster.Name})
		},
		func(ctx context.Context) (*cloud.ClusterInfo, error) { return p.launch(ctx, req.Cluster.Name, req) })
}

func (p *Provider) launch(ctx context.Context, name string, req cloud.ProvisionRequest) (_ *cloud.ClusterInfo, err error) {
	r := req.Requirements
	region, itype := vm.First(req.Offer.Region, r.Region), vm.First(req.Offer.InstanceType, r.InstanceType)
	place := cloud.Place{Cloud: Name, Region: region}
	if region == "" || itype == "" {
		return nil, fmt.Errorf("the offer names no region or instance type (region %q, instance type %q)", region, itype)
	}
	platform, preset, ok := splitType(itype)
	if !ok {
		return nil, &cloud.InvalidConfigError{Place: place, Reason: "instance type " + itype + " is not PLATFORM_PRESET (gpu-h100-sxm_8gpu-128vcpu-1600gb): `stix show-gpus --infra nebius`"}
	}
	cat, err := p.opts.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := cat.ValidateLocation(region, ""); err != nil {
		return nil, &cloud.InvalidConfigError{Place: place, Reason: err.Error()}
	}
	if _, err := p.m.ParsePorts(r.Ports); err != nil {
		return nil, err
	}
	image := vm.First(r.ImageID, defaultImage(platform))
	if err := p.CheckImage(image); err != nil {
		return nil, &cloud.InvalidConfigError{Place: place, Reason: err.Error()}
	}
	pub, err := p.m.Prepare()
	if err != nil {
		return nil, err
	}
	c, err := newClient(ctx)
	if err != nil {
		return nil, err
	}
	project, err := projectFor(ctx, c, region)
	if err != nil {
		return nil, err
	}
	subnets, err := c.subnets(ctx, project)
	if err != nil {
		return nil, classify("list the subnets of project "+project, place, err)
	}
	if len(subnets) == 0 {
		return nil, &cloud.InvalidConfigError{Place: place, Reason: "project " + project + " has no subnet (make a network in Nebius's console)"}
	}
	n := r.Nodes()
	spot := req.Offer.Spot || r.UseSpot
	diskGB := r.DiskSizeGB
	if diskGB <= 0 {
		diskGB = defaultDiskGB
	}
	s := &state{Region: region, Project: project, Spot: spot}

	// What is made from here on is undone when the launch fails.
	defer func() {
		if err == nil {
			return
		}
		cleanup := context.WithoutCancel(ctx)
		errs := []error{p.deleteAll(cleanup, c, place, project, name, s.InstanceIDs, s.DiskIDs), p.m.Forget(name)}
		if cerr := errors.Join(errs...); cerr != nil {
			err = fmt.Errorf("%w (cleaning up: %v)", err, cerr)
		}
	}()
	labels := map[string]string{labelKey: label(name)}
	for rank := 0; rank < n; rank++ {
		req.Report(fmt.Sprintf("creating the boot disk of node %d (%d GiB, image %s) in %s", rank, diskGB, image, region))
		spec := msg(nil).int(4, int64(diskGB)).int(6, 1) // size_gibibytes, type NETWORK_SSD
		if strings.HasPrefix(image, "computeimage-") {
			spec = spec.str(8, image)
		} else {
			spec = spec.sub(10, msg(nil).str(1, image))
		}
		md := metadata{ParentID: project, Name: diskName(name, rank), Labels: labels}
		op, err := c.operation(ctx, p.m.Poll, svcCompute, diskSvc+"Create", msg(nil).sub(1, md.encode()).sub(2, spec))
		if op.ResourceID != "" {
			s.DiskIDs = append(s.DiskIDs, op.ResourceID)
		}
		if err != nil {
			if errNotFound(err) {
				return nil, &cloud.InvalidConfigError{Place: place, Reason: "image " + image + " does not exist on Nebius (" + err.Error() +
					"; image_id: an image family such as ubuntu22.04-cuda12, or an image id: `nebius compute image list-public`)"}
			}
			return nil, classify("create the boot disk", place, err)
		}
		if err := p.diskReady(ctx, c, place, op.ResourceID); err != nil {
			return nil, err
		}
	}
	for rank := 0; rank < n; rank++ {
		req.Report(fmt.Sprintf("creating instance %d (%s, %s) in %s", rank, platform, preset, region))
		ispec := msg(nil).
			sub(2, msg(nil).str(1, platform).str(2, preset)).
			sub(4, msg(nil).str(1, subnets[0]).str(2, "network-interface-0").sub(3, nil).sub(4, nil)).
			sub(5, msg(nil).int(1, 2).sub(2, msg(nil).str(1, s.DiskIDs[rank]))). // READ_WRITE, existing_disk
			str(8, userData(p.m.User, string(pub))).
			int(15, 1) // recovery policy FAIL: an instance that powers itself off stays stopped (autostop.go)
		if spot {
			ispec = ispec.sub(19, msg(nil).int(1, 1).int(2, 1)) // preemptible: on preemption STOP, priority 1
		}
		md := metadata{ParentID: project, Name: instanceName(name, rank), Labels: labels}
		op, err := c.operation(ctx, p.m.Poll, svcCompute, instanceSvc+"Create", msg(nil).sub(1, md.encode()).sub(2, ispec))
		if op.ResourceID != "" {
			s.InstanceIDs = append(s.InstanceIDs, op.ResourceID)
		}
		if err != nil {
			return nil, classify(fmt.Sprintf("create instance %d (%s)", rank, itype), place, err)
		}
	}
	if s.Cluster, err = vm.NewCluster(name, req.Secret); err != nil {
		return nil, err
	}
	if err := p.m.WriteState(name, s); err != nil {
		return nil, err
	}
	return p.bringUp(ctx, c, name, s, req.Report)
}

// diskReady waits for a disk to be READY; one that ends in ERROR is the region's capacity.
func (p *Provider) diskReady(ctx context.Context, c *client, place cloud.Place, id string) error {
	return p.m.Poll(ctx, "disk "+id+" is not ready", func(ctx context.Context) (bool, error) {
		st, desc, err := c.diskState(ctx, id)
		switch {
		case err != nil:
			return false, classify("read disk "+id, place, err)
		case st == diskError:
			return false, &cloud.CapacityError{Place: place, Reason: "disk " + id + " failed: " + desc}
		}
		return st == diskReady, nil
	})
}

// bringUp waits for the instances to run with their addresses, then deploys the agents and records the nodes.
func (p *Provider) bringUp(ctx context.Context, c *client, name string, s *state, report func(string)) (*cloud.ClusterInfo, error) {
	place := cloud.Place{Cloud: Name, Region: s.Region}
	var ins []instance
	err := p.m.Poll(ctx, "instances "+strings.Join(s.InstanceIDs, ", ")+" are not running", func(ctx context.Context) (bool, error) {
		all, err := c.instances(ctx, s.Project)
		if err != nil {
			return false, classify("list instances", place, err)
		}
		ins = byID(all, s.InstanceIDs)
		for i, in := range ins {
			switch {
			case in.ID == "" || in.State == stateError || in.State == stateDeleting:
				return false, &cloud.CapacityError{Place: place, Reason: fmt.Sprintf("instance %s of node %d is %s while booting", s.InstanceIDs[i], i, stateName(in.State))}
			case in.State != stateRunning || in.PublicIP == "":
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	hosts := make([]vm.Host, len(ins))
	for i, in := range ins {
		hosts[i] = vm.Host{ID: in.ID, PrivateIP: vm.First(in.PrivateIP, in.PublicIP), PublicIP: in.PublicIP}
	}
	s.Stopped = false
	return p.m.Finish(ctx, place, name, hosts, s, &s.Cluster, report,
		handle{Cluster: name, Region: s.Region, Project: s.Project, InstanceIDs: s.InstanceIDs})
}

// byID returns the instances in the order of ids; one Nebius does not list is the zero instance.
func byID(all []instance, ids []string) []instance { return vm.InOrder(all, ids, instanceID) }

func instanceID(in instance) string { return in.ID }
