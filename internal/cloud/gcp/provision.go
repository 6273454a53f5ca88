package gcp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
	"github.com/stix-run/stix/internal/config"
)

// Default image tags of the catalog's images.csv, as SkyPilot picks them on GCP.
const (
	cpuImageTag = "skypilot:custom-cpu-ubuntu-2204"
	gpuImageTag = "skypilot:custom-gpu-ubuntu-2204"
)

// Labels stix puts on what it creates, so that `status -r` and terminate find instances without local state.
const (
	labelCluster = "stix-cluster" // labelValue of the cluster's name
	labelUser    = "stix-user"    // vm.UserHash: another user's cluster of the same name is not this one
)

// state is what stix keeps of a GCP cluster, in Home/gcp/clusters/NAME.json.
type state struct {
	Project   string   `json:"project"`
	Region    string   `json:"region"`
	Zone      string   `json:"zone"`
	Instances []string `json:"instances"` // names, rank order
	Firewall  string   `json:"firewall,omitempty"`
	Spot      bool     `json:"spot,omitempty"`
	// Autodown says that autostop tears the cluster down (PrepareSelfStop).
	Autodown bool `json:"autodown,omitempty"`
	vm.Cluster
}

// handle is the cluster's Handle: enough to find its instances without stix's state.
type handle struct {
	Cluster   string   `json:"cluster"`
	Zone      string   `json:"zone"`
	Instances []string `json:"instances"`
}

// instance is the part of Compute Engine's instance resource stix reads.
type instance struct {
	Name              string            `json:"name"`
	Status            string            `json:"status"` // PROVISIONING STAGING RUNNING STOPPING STOPPED SUSPENDED TERMINATED
	StatusMessage     string            `json:"statusMessage"`
	Labels            map[string]string `json:"labels"`
	NetworkInterfaces []struct {
		NetworkIP     string `json:"networkIP"`
		AccessConfigs []struct {
			NatIP string `json:"natIP"`
		} `json:"accessConfigs"`
	} `json:"networkInterfaces"`
	Scheduling struct {
		Preemptible       bool   `json:"preemptible"`
		ProvisioningModel string `json:"provisioningModel"`
	} `json:"scheduling"`
}

func (in *instance) addresses() (private, public string) {
	if len(in.NetworkInterfaces) == 0 {
		return "", ""
	}
	ni := in.NetworkInterfaces[0]
	if len(ni.AccessConfigs) > 0 {
		public = ni.AccessConfigs[0].NatIP
	}
	return ni.NetworkIP, public
}

func (in *instance) spot() bool {
	return in.Scheduling.Preemptible || in.Scheduling.ProvisioningModel == "SPOT"
}

// labelValue is name as a label value may be (lower-case letters, digits, '-' and '_'; 63 at most).
func labelValue(name string) string {
	s := vm.LowerName(name, "_")
	return s[:min(len(s), 63)]
}

// resourceName is what stix names the cluster's resources (instances get -RANK): a resource name is lower-case
// letters, digits and '-', starting with a letter, 63 at most; the hash keeps apart clusters whose names map
// to the same letters, and users.
func resourceName(cluster string) string {
	sum := sha256.Sum256([]byte(cluster + "@" + vm.UserHash()))
	base := strings.Trim(strings.ReplaceAll(labelValue(cluster), "_", "-"), "-")
	return "stix-" + base[:min(len(base), 40)] + "-" + hex.EncodeToString(sum[:4])
}

func instanceName(cluster string, rank int) string {
	return resourceName(cluster) + "-" + strconv.Itoa(rank)
}

// Provision launches the cluster's instances in the offer's zone (or starts the cluster's stopped ones), waits
// for them, and deploys the agent on each over SSH. A new cluster that fails leaves nothing behind: its
// instances and its firewall rule are deleted.
func (p *Provider) Provision(ctx context.Context, req cloud.ProvisionRequest) (*cloud.ClusterInfo, error) {
	return vm.Provision(ctx, p.m, req, func(s *state) int { return len(s.Instances) },
		func(ctx context.Context, s *state) (*cloud.ClusterInfo, error) {
			return p.Start(ctx, cloud.ClusterRef{Name: req.Cluster.Name})
		},
		func(ctx context.Context) (*cloud.ClusterInfo, error) { return p.launch(ctx, req.Cluster.Name, req) })
}

// launch makes a new cluster.
func (p *Provider) launch(ctx context.Context, name string, req cloud.ProvisionRequest) (_ *cloud.ClusterInfo, err error) {
	r := req.Requirements
	region, zone := vm.First(req.Offer.Region, r.Region), vm.First(req.Offer.Zone, r.Zone)
	machineType := vm.First(req.Offer.InstanceType, r.InstanceType)
	spot := req.Offer.Spot || r.UseSpot
	place := cloud.Place{Cloud: Name, Region: region, Zone: zone}
	if region == "" || machineType == "" {
		return nil, fmt.Errorf("the offer names no region or machine type (region %q, machine type %q)", region, machineType)
	}
	ports, err := p.m.ParsePorts(r.Ports)
	if err != nil {
		return nil, err
	}
	accs := req.Offer.Accelerators
	if len(accs) == 0 {
		accs = r.Accelerators
	}
	image, zones, err := p.imageAndZones(ctx, place, r.ImageID, len(accs) > 0)
	if err != nil {
		return nil, err
	}
	guest, err := guestAccelerators(place, machineType, accs)
	if err != nil {
		return nil, err
	}
	pub, err := p.m.Prepare()
	if err != nil {
		return nil, err
	}
	a, err := p.client()
	if err != nil {
		return nil, err
	}
	network := "global/networks/default"
	if v, _ := config.FromContext(ctx).Get("gcp.vpc_name"); v != nil {
		if s, _ := v.(string); s != "" {
			network = "global/networks/" + s
		}
	}

	// What is made from here on is undone when the launch fails.
	var made struct {
		firewall string
		zone     string // the zone whose instances may exist
	}
	n := r.Nodes()
	defer func() {
		if err == nil {
			return
		}
		cleanup := context.WithoutCancel(ctx)
		var errs []error
		if made.zone != "" {
			errs = append(errs, p.deleteInstances(cleanup, a, cloud.Place{Cloud: Name, Region: region, Zone: made.zone}, names(name, n)))
		}
		if made.firewall != "" {
			errs = append(errs, p.deleteFirewall(cleanup, a, place, made.firewall))
		}
		errs = append(errs, p.m.Forget(name))
		if cerr := errors.Join(errs...); cerr != nil {
			err = fmt.Errorf("%w (cleaning up: %v)", err, cerr)
		}
	}()

	req.Report("opening ports in firewall rule " + resourceName(name))
	if made.firewall, err = p.firewall(ctx, a, place, network, name, ports); err != nil {
		return nil, err
	}
	// An offer for a whole region leaves the zone to the provider: the region's zones are tried in turn, as
	// SkyPilot does, and only when every one lacks capacity is the region ruled out.
	var short []string
	for _, z := range zones {
		place.Zone = z
		made.zone = z
		req.Report(fmt.Sprintf("launching %d %s instance(s) in %s", n, machineType, z))
		body := instanceBody(z, machineType, image, network, name, string(pub), p.opts.SSHUser, r.DiskSizeGB, r.DiskTier, guest, spot, len(accs) > 0)
		err = cloud.EachNode(ctx, n, func(ctx context.Context, rank int) error {
			b := body(rank)
			var op operation
			if err := a.do(ctx, http.MethodPost, "zones/"+z+"/instances", nil, b, &op); err != nil {
				return classify("insert instance "+b["name"].(string), place, err)
			}
			return p.wait(ctx, a, place, &op, "insert instance "+b["name"].(string))
		})
		var capErr *cloud.CapacityError
		if err == nil || !errors.As(err, &capErr) || zone != "" {
			break
		}
		req.Report(fmt.Sprintf("no capacity in %s: %s", z, capErr.Reason))
		short = append(short, z+": "+capErr.Reason)
		if derr := p.deleteInstances(context.WithoutCancel(ctx), a, place, names(name, n)); derr != nil {
			return nil, fmt.Errorf("%w (cleaning up: %v)", err, derr)
		}
		made.zone = ""
	}
	if err != nil {
		if len(short) > 1 && len(short) == len(zones) {
			place.Zone = ""
			return nil, &cloud.CapacityError{Place: place, Reason: fmt.Sprintf("no zone of %s has capacity (%s)", region, strings.Join(short, "; "))}
		}
		return nil, err
	}
	s := &state{Project: a.project, Region: region, Zone: place.Zone, Instances: names(name, n), Firewall: made.firewall, Spot: spot}
	if s.Cluster, err = vm.NewCluster(name, req.Secret); err != nil {
		return nil, err
	}
	if err := p.m.WriteState(name, s); err != nil {
		return nil, err
	}
	return p.bringUp(ctx, a, name, s, req.Report)
}

func names(cluster string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = instanceName(cluster, i)
	}
	return out
}

// imageAndZones resolves the task's image_id (an image, or a catalog tag) or the default tag to an image, refuses
// a region the catalog does not list, and returns the zones to try: the offer's, else the region's in the
// catalog.
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
			return "", nil, &cloud.InvalidConfigError{Place: place, Reason: "the catalog lists no zone of region " + place.Region}
		}
	}
	if isImage(imageID) {
		return imageID, zones, nil
	}
	tag := imageID
	if tag == "" {
		tag = cpuImageTag
		if gpu {
			tag = gpuImageTag
		}
	}
	id, err := cat.ImageID(tag, place.Region)
	if err != nil {
		return "", nil, &cloud.InvalidConfigError{Place: place, Reason: "image: " + err.Error()}
	}
	return id, zones, nil
}

// n1GPUs are the GPUs attached to N1 machine types, with Compute Engine's accelerator type; the other GPUs come
// with their machine type (a2, a3, g2), which the catalog pairs with them.
var n1GPUs = map[string]string{"T4": "nvidia-tesla-t4", "V100": "nvidia-tesla-v100", "P100": "nvidia-tesla-p100",
	"P4": "nvidia-tesla-p4", "K80": "nvidia-tesla-k80"}

// guestAccelerators is the instance's guestAccelerators for an N1 host of GPUs; none for machine types that
// come with theirs.
func guestAccelerators(place cloud.Place, machineType string, accs map[string]float64) ([]map[string]any, error) {
	var out []map[string]any
	for acc, count := range accs {
		if strings.HasPrefix(strings.ToLower(acc), "tpu-") {
			return nil, &cloud.InvalidConfigError{Place: place, Reason: acc + ": stix provisions GCP VMs, not TPU VMs, yet"}
		}
		if !strings.HasPrefix(machineType, "n1-") {
			continue
		}
		t, ok := n1GPUs[strings.ToUpper(acc)]
		if !ok {
			return nil, &cloud.InvalidConfigError{Place: place, Reason: fmt.Sprintf("%s cannot be attached to %s", acc, machineType)}
		}
		if count != float64(int(count)) || count < 1 {
			return nil, &cloud.InvalidConfigError{Place: place, Reason: fmt.Sprintf("%s:%v: a GCP VM takes whole GPUs", acc, count)}
		}
		out = append(out, map[string]any{"acceleratorType": "zones/" + place.Zone + "/acceleratorTypes/" + t,
			"acceleratorCount": int(count)})
	}
	return out, nil
}

// diskTypes are the persistent disk types of disk_tier.
var diskTypes = map[string]string{"low": "pd-standard", "medium": "pd-balanced", "high": "pd-ssd", "ultra": "pd-extreme", "best": "pd-ssd"}

// instanceBody returns, per rank, the instances.insert body: the machine type and its GPUs, the boot disk from
// image, an external address on network, the cluster's labels and network tag (its firewall rule's target),
// stix's SSH key in the ssh-keys metadata, and scheduling (TERMINATE on host maintenance for GPUs; SPOT).
func instanceBody(zone, machineType, image, network, cluster, pub, user string, diskGB int, tier string,
	guest []map[string]any, spot, gpu bool) func(rank int) map[string]any {
	if diskGB <= 0 {
		diskGB = 256 // SkyPilot's default disk_size
	}
	diskType, ok := diskTypes[strings.ToLower(tier)]
	if !ok {
		diskType = "pd-balanced"
	}
	sched := map[string]any{"automaticRestart": !spot && !gpu, "onHostMaintenance": "MIGRATE"}
	if gpu || spot {
		sched["onHostMaintenance"] = "TERMINATE"
	}
	if spot {
		sched["provisioningModel"] = "SPOT"
		sched["instanceTerminationAction"] = "STOP"
	}
	return func(rank int) map[string]any {
		b := map[string]any{
			"name":        instanceName(cluster, rank),
			"machineType": "zones/" + zone + "/machineTypes/" + machineType,
			"labels":      map[string]string{labelCluster: labelValue(cluster), labelUser: vm.UserHash()},
			"tags":        map[string]any{"items": []string{resourceName(cluster)}},
			"metadata": map[string]any{"items": []map[string]string{
				{"key": "ssh-keys", "value": user + ":" + pub + " " + user},
				{"key": "stix-cluster", "value": cluster}}},
			"disks": []map[string]any{{"boot": true, "autoDelete": true, "initializeParams": map[string]any{
				"sourceImage": image, "diskSizeGb": strconv.Itoa(diskGB),
				"diskType": "zones/" + zone + "/diskTypes/" + diskType}}},
			"networkInterfaces": []map[string]any{{"network": network,
				"accessConfigs": []map[string]string{{"name": "External NAT", "type": "ONE_TO_ONE_NAT"}}}},
			"scheduling": sched,
		}
		if len(guest) > 0 {
			b["guestAccelerators"] = guest
		}
		return b
	}
}

// firewall makes the cluster's firewall rule on network: SSH and the task's ports from anywhere to the instances
// with the cluster's network tag (traffic between them passes the network's internal rule). It returns its name.
func (p *Provider) firewall(ctx context.Context, a *api, place cloud.Place, network, cluster string, ports []vm.PortRange) (string, error) {
	name := resourceName(cluster)
	allowed := []string{"22"}
	for _, r := range ports {
		allowed = append(allowed, r.String())
	}
	body := map[string]any{"name": name, "network": network, "direction": "INGRESS", "priority": 1000,
		"description": "stix cluster " + cluster, "sourceRanges": []string{"0.0.0.0/0"},
		"targetTags": []string{name}, "allowed": []map[string]any{{"IPProtocol": "tcp", "ports": allowed}}}
	var op operation
	err := a.do(ctx, http.MethodPost, "global/firewalls", nil, body, &op)
	var e *apiError
	if errors.As(err, &e) && e.Status == http.StatusConflict {
		// Left by an earlier launch of this cluster: take it over with this launch's ports.
		err = a.do(ctx, http.MethodPut, "global/firewalls/"+name, nil, body, &op)
	}
	if err != nil {
		return "", classify("create firewall rule "+name, place, err)
	}
	return name, p.wait(ctx, a, place, &op, "create firewall rule "+name)
}

// wait polls the operation until it is DONE, and returns its error, classified.
func (p *Provider) wait(ctx context.Context, a *api, place cloud.Place, op *operation, what string) error {
	if op.Name == "" {
		return nil
	}
	err := p.m.Poll(ctx, fmt.Sprintf("operation %s (%s) is not done", op.Name, what), func(ctx context.Context) (bool, error) {
		if op.Status == "DONE" {
			return true, nil
		}
		var next operation
		if err := a.do(ctx, http.MethodGet, operationPath(op), nil, nil, &next); err != nil {
			return false, classify("poll operation "+op.Name, place, err)
		}
		*op = next
		return op.Status == "DONE", nil
	})
	if err != nil {
		return err
	}
	return classify(what, place, op.err())
}

// bringUp waits for the instances to run, then deploys the agent on each over SSH and records the nodes.
func (p *Provider) bringUp(ctx context.Context, a *api, name string, s *state, report func(string)) (*cloud.ClusterInfo, error) {
	place := cloud.Place{Cloud: Name, Region: s.Region, Zone: s.Zone}
	var lost error
	insts, err := p.waitInstances(ctx, a, place, s.Instances, "running", func(rank int, in *instance) bool {
		switch in.Status {
		case "TERMINATED", "STOPPED", "STOPPING", "SUSPENDED":
			if lost == nil {
				lost = gone(place, name, rank, in)
			}
			return true
		}
		private, _ := in.addresses()
		return in.Status == "RUNNING" && private != ""
	})
	if err == nil && lost != nil {
		err = lost
	}
	if err != nil {
		return nil, err
	}
	hosts := make([]vm.Host, len(insts))
	for i, in := range insts {
		private, public := in.addresses()
		hosts[i] = vm.Host{ID: in.Name, PrivateIP: private, PublicIP: public}
	}
	return p.m.Finish(ctx, place, name, hosts, s, &s.Cluster, report,
		handle{Cluster: name, Zone: s.Zone, Instances: s.Instances})
}

// gone is the error for an instance that ended while stix waited for it to run: a spot VM Compute Engine took
// back, or one that could not start.
func gone(place cloud.Place, cluster string, rank int, in *instance) error {
	if in.spot() {
		return &cloud.PreemptedError{Place: place, Cluster: cluster, Rank: rank, Reason: "spot VM " + in.Name + " preempted by GCP (" + in.Status + ")"}
	}
	return &cloud.CapacityError{Place: place, Reason: fmt.Sprintf("instance %s of node %d is %s while starting %s", in.Name, rank, in.Status, in.StatusMessage)}
}

// waitInstances polls the named instances until done says each is where it should be.
func (p *Provider) waitInstances(ctx context.Context, a *api, place cloud.Place, names []string, what string, done func(rank int, in *instance) bool) ([]*instance, error) {
	insts := make([]*instance, len(names))
	err := p.m.Poll(ctx, fmt.Sprintf("instances %s are not %s", strings.Join(names, ", "), what), func(ctx context.Context) (bool, error) {
		ready := true
		for i, n := range names {
			var in instance
			if err := a.do(ctx, http.MethodGet, "zones/"+place.Zone+"/instances/"+n, nil, nil, &in); err != nil {
				return false, classify("get instance "+n, place, err)
			}
			insts[i] = &in
			ready = done(i, &in) && ready
		}
		return ready, nil
	})
	if err != nil {
		return nil, err
	}
	return insts, nil
}

// deleteInstances deletes the named instances of the zone and waits for them to be gone; those Compute Engine
// does not know are gone already.
func (p *Provider) deleteInstances(ctx context.Context, a *api, place cloud.Place, names []string) error {
	return cloud.EachNode(ctx, len(names), func(_ context.Context, i int) error {
		var op operation
		err := a.do(ctx, http.MethodDelete, "zones/"+place.Zone+"/instances/"+names[i], nil, nil, &op)
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return classify("delete instance "+names[i], place, err)
		}
		return p.wait(ctx, a, place, &op, "delete instance "+names[i])
	})
}

// deleteFirewall deletes the cluster's firewall rule; one that is gone already is fine.
func (p *Provider) deleteFirewall(ctx context.Context, a *api, place cloud.Place, name string) error {
	var op operation
	err := a.do(ctx, http.MethodDelete, "global/firewalls/"+path.Base(name), nil, nil, &op)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return classify("delete firewall rule "+name, place, err)
	}
	return p.wait(ctx, a, place, &op, "delete firewall rule "+name)
}
