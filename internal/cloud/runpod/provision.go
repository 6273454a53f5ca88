package runpod

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
	"github.com/stix-run/stix/internal/transport"
)

// state is what stix keeps of a RunPod cluster, in Home/runpod/clusters/NAME.json; the pods carry the
// cluster's name (podName), so that they are found without it.
type state struct {
	Region     string   `json:"region"`
	DataCenter string   `json:"data_center"`
	PodIDs     []string `json:"pod_ids"` // rank order
	Spot       bool     `json:"spot,omitempty"`
	vm.Cluster
}

// handle is the cluster's Handle: its pods and the public ports of their sshd.
type handle struct {
	Cluster  string   `json:"cluster"`
	PodIDs   []string `json:"pod_ids"`
	SSHPorts []int    `json:"ssh_ports"`
}

// podPrefix starts the names of the cluster's pods: the cluster's and this user's.
func podPrefix(cluster string) string { return cluster + "-" + vm.UserHash() + "-" }

func podName(cluster string, rank int) string { return podPrefix(cluster) + strconv.Itoa(rank) }

// Provision creates one pod per node in the offer's data center, waits until each has its public address, and
// deploys the agent on each over SSH. A cluster that exists has its agents deployed again. A new cluster that
// fails leaves no pod behind.
func (p *Provider) Provision(ctx context.Context, req cloud.ProvisionRequest) (*cloud.ClusterInfo, error) {
	return vm.Provision(ctx, p.m, req, func(s *state) int { return len(s.PodIDs) },
		func(ctx context.Context, s *state) (*cloud.ClusterInfo, error) {
			c, err := newClient()
			if err != nil {
				return nil, err
			}
			return p.bringUp(ctx, c, req.Cluster.Name, s, req.Report)
		},
		func(ctx context.Context) (*cloud.ClusterInfo, error) { return p.launch(ctx, req.Cluster.Name, req) })
}

func (p *Provider) launch(ctx context.Context, name string, req cloud.ProvisionRequest) (_ *cloud.ClusterInfo, err error) {
	r := req.Requirements
	region, zone := vm.First(req.Offer.Region, r.Region), vm.First(req.Offer.Zone, r.Zone)
	instanceType := vm.First(req.Offer.InstanceType, r.InstanceType)
	spot := req.Offer.Spot || r.UseSpot
	place := cloud.Place{Cloud: Name, Region: region, Zone: zone}
	if region == "" || instanceType == "" {
		return nil, fmt.Errorf("the offer names no region or instance type (region %q, instance type %q)", region, instanceType)
	}
	cat, err := p.opts.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := cat.ValidateLocation(region, zone); err != nil {
		return nil, &cloud.InvalidConfigError{Place: place, Reason: err.Error()}
	}
	// An offer for a whole country leaves the data center to the provider: its data centers are tried in the
	// catalog's order for the head pod, and only when none has a machine is the region ruled out.
	zones := []string{zone}
	if zone == "" {
		if zones = cat.Zones(region); len(zones) == 0 {
			zones = []string{""}
		}
	}
	ranges, err := p.m.ParsePorts(r.Ports)
	if err != nil {
		return nil, err
	}
	ports := []string{"22/tcp"}
	for _, pr := range ranges {
		for port := pr.From; port <= pr.To; port++ {
			if s := strconv.Itoa(port) + "/tcp"; !slices.Contains(ports, s) {
				ports = append(ports, s)
			}
		}
	}
	if len(ports) > 100 {
		return nil, &cloud.InvalidConfigError{Place: place, Reason: fmt.Sprintf("ports: %d ports asked for; a RunPod pod exposes at most 100", len(ports)-1)}
	}
	image := DefaultImage
	if r.ImageID != "" {
		if err := p.CheckImage(r.ImageID); err != nil {
			return nil, &cloud.InvalidConfigError{Place: place, Reason: err.Error()}
		}
		image = strings.TrimPrefix(r.ImageID, "docker:")
	}
	base := createPod{ImageName: image, Interruptible: spot, Ports: ports, SupportPublicIP: true,
		ContainerDiskInGb: r.DiskSizeGB, GlobalNetworking: r.Nodes() > 1}
	if base.ContainerDiskInGb <= 0 {
		base.ContainerDiskInGb = 256 // SkyPilot's default disk_size
	}
	if err := shape(instanceType, &base); err != nil {
		return nil, &cloud.InvalidConfigError{Place: place, Reason: err.Error()}
	}
	pub, err := p.m.Prepare()
	if err != nil {
		return nil, err
	}
	base.Env = map[string]string{"PUBLIC_KEY": string(pub)}
	c, err := newClient()
	if err != nil {
		return nil, err
	}

	var made []string // pods created, deleted when the launch fails
	defer func() {
		if err == nil {
			return
		}
		cleanup := context.WithoutCancel(ctx)
		errs := []error{p.deletePods(cleanup, c, place, made), p.m.Forget(name)}
		if cerr := errors.Join(errs...); cerr != nil {
			err = fmt.Errorf("%w (cleaning up: %v)", err, cerr)
		}
	}()
	n := r.Nodes()
	var short []string
	for _, z := range zones {
		place.Zone = z
		if err = p.createPods(ctx, c, base, name, place, instanceType, n, &made, req.Report); err == nil {
			break
		}
		var capErr *cloud.CapacityError
		if !errors.As(err, &capErr) || len(zones) == 1 {
			return nil, err
		}
		// Some pods may have landed before one found no machine: the cluster goes to one data center whole.
		if derr := p.deletePods(context.WithoutCancel(ctx), c, place, made); derr != nil {
			return nil, err // the deferred cleanup tries again
		}
		made = nil
		req.Report(fmt.Sprintf("no capacity in %s: %s", z, capErr.Reason))
		short = append(short, z+": "+capErr.Reason)
	}
	if err != nil {
		place.Zone = ""
		return nil, &cloud.CapacityError{Place: place, Reason: fmt.Sprintf("no data center of %s has capacity (%s)", region, strings.Join(short, "; "))}
	}
	s := &state{Region: region, DataCenter: place.Zone, PodIDs: made, Spot: spot}
	if s.Cluster, err = vm.NewCluster(name, req.Secret); err != nil {
		return nil, err
	}
	if err := p.m.WriteState(name, s); err != nil {
		return nil, err
	}
	return p.bringUp(ctx, c, name, s, req.Report)
}

// createPods creates the cluster's n pods in place's data center at once, appending each created to made in
// rank order (all of them, or those to delete when one failed).
func (p *Provider) createPods(ctx context.Context, c *client, base createPod, name string, place cloud.Place, instanceType string, n int, made *[]string, report func(string)) error {
	if place.Zone != "" {
		base.DataCenterIDs = []string{place.Zone}
	}
	report(fmt.Sprintf("creating %d %s pod(s) in %s", n, instanceType, vm.First(place.Zone, place.Region)))
	ids := make([]string, n)
	err := cloud.EachNode(ctx, n, func(ctx context.Context, rank int) error {
		in := base
		in.Name = podName(name, rank)
		pd, err := c.create(ctx, in)
		if err != nil {
			return classify("create pod", place, err)
		}
		ids[rank] = pd.ID
		return nil
	})
	for _, id := range ids {
		if id != "" {
			*made = append(*made, id)
		}
	}
	return err
}

// lost is the error for a pod that ended while stix waited for it.
func lost(place cloud.Place, cluster string, rank int, pd pod) error {
	if pd.Interruptible {
		return &cloud.PreemptedError{Place: place, Cluster: cluster, Rank: rank, Reason: "interruptible pod " + pd.ID + " is " + pd.DesiredStatus}
	}
	return &cloud.CapacityError{Place: place, Reason: fmt.Sprintf("pod %s of node %d is %s while starting", pd.ID, rank, pd.DesiredStatus)}
}

// bringUp waits until every pod runs with a public address and a mapped SSH port, reads each pod's address on
// the cluster's network, deploys the agents and records the nodes.
func (p *Provider) bringUp(ctx context.Context, c *client, name string, s *state, report func(string)) (*cloud.ClusterInfo, error) {
	place := cloud.Place{Cloud: Name, Region: s.Region, Zone: s.DataCenter}
	pods := make([]pod, len(s.PodIDs))
	err := p.m.Poll(ctx, fmt.Sprintf("pods %s have no public SSH port", strings.Join(s.PodIDs, ", ")), func(ctx context.Context) (bool, error) {
		ready := true
		for i, id := range s.PodIDs {
			if pods[i].PublicIP != "" && pods[i].PortMappings["22"] != 0 {
				continue
			}
			pd, err := c.pod(ctx, id)
			var api *apiError
			if errors.As(err, &api) && api.Status == 404 {
				return false, lost(place, name, i, pod{ID: id, DesiredStatus: "TERMINATED", Interruptible: s.Spot})
			}
			if err != nil {
				return false, classify("get pod "+id, place, err)
			}
			if pd.DesiredStatus == "EXITED" || pd.DesiredStatus == "TERMINATED" {
				return false, lost(place, name, i, pd)
			}
			pods[i] = pd
			ready = ready && pd.PublicIP != "" && pd.PortMappings["22"] != 0
		}
		return ready, nil
	})
	if err != nil {
		return nil, err
	}
	hosts := make([]vm.Host, len(pods))
	err = cloud.EachNode(ctx, len(pods), func(ctx context.Context, rank int) error {
		pd := pods[rank]
		h := vm.Host{ID: pd.ID, PublicIP: pd.PublicIP, SSHPort: pd.PortMappings["22"]}
		ip, err := p.privateIP(ctx, place, name, h)
		if err != nil {
			return fmt.Errorf("node %d (%s): %w", rank, pd.ID, err)
		}
		h.PrivateIP = ip
		hosts[rank] = h
		return nil
	})
	if err != nil {
		return nil, err
	}
	sshPorts := make([]int, len(hosts))
	for i, h := range hosts {
		sshPorts[i] = h.SSHPort
	}
	return p.m.Finish(ctx, place, name, hosts, s, &s.Cluster, report,
		handle{Cluster: name, PodIDs: s.PodIDs, SSHPorts: sshPorts})
}

// privateIP asks the pod for its own address (the first of `hostname -I`): where the other pods of the
// cluster reach its agent. RunPod's API reports only the public address and its port mappings.
func (p *Provider) privateIP(ctx context.Context, place cloud.Place, cluster string, h vm.Host) (string, error) {
	tr, err := p.m.DialWait(ctx, place, cluster, h.PublicIP+":"+strconv.Itoa(h.SSHPort))
	if err != nil {
		return "", err
	}
	defer tr.Close()
	var out, errOut bytes.Buffer
	code, err := tr.Run(ctx, "hostname -I", transport.RunOptions{Stdout: &out, Stderr: &errOut})
	if err != nil {
		return "", err
	}
	fields := strings.Fields(out.String())
	if code != 0 || len(fields) == 0 {
		return "", fmt.Errorf("`hostname -I` on the pod: exit %d: %s", code, strings.TrimSpace(errOut.String()))
	}
	return fields[0], nil
}

// locate returns the cluster's pod ids (rank order) and its state when stix has one.
func (p *Provider) locate(ref cloud.ClusterRef) (ids []string, s *state, err error) {
	return vm.Locate(p.m, ref, func(s *state) []string { return s.PodIDs },
		func(h *handle) []string { return h.PodIDs })
}

// mine lists the cluster's pods: those of ids, in their order (TERMINATED when RunPod no longer lists one),
// then others carrying its name.
func mine(all []pod, cluster string, ids []string) []pod {
	return vm.Mine(all, ids, func(pd pod) string { return pd.ID },
		func(id string) pod { return pod{ID: id, DesiredStatus: "TERMINATED"} },
		func(pd pod) bool { return strings.HasPrefix(pd.Name, podPrefix(cluster)) })
}

// Query reports RunPod's view of each node: a running pod with its public address is running, one without it
// yet pending, an on-demand pod stopped outside stix stopped, an interruptible one taken back (exited) or one
// RunPod no longer lists missing. When every node is missing, what is left of the cluster (exited pods keep
// their volume) is deleted and forgotten: the caller drops such a cluster without calling Terminate.
func (p *Provider) Query(ctx context.Context, ref cloud.ClusterRef) ([]cloud.NodeState, error) {
	ids, s, err := p.locate(ref)
	if err != nil {
		return nil, err
	}
	c, err := newClient()
	if err != nil {
		return nil, err
	}
	place := cloud.Place{Cloud: Name}
	all, err := c.pods(ctx)
	if err != nil {
		return nil, classify("list pods", place, err)
	}
	pods := mine(all, ref.Name, ids)
	var states []cloud.NodeState
	var leftovers []string
	for i, pd := range pods {
		st := cloud.NodeState{Rank: i}
		switch {
		case pd.DesiredStatus == "RUNNING" && pd.PublicIP != "":
			st.Status = cloud.NodeRunning
		case pd.DesiredStatus == "RUNNING":
			st.Status, st.Reason = cloud.NodePending, "pod "+pd.ID+" is starting"
		case pd.DesiredStatus == "EXITED" && !pd.Interruptible:
			// Stopped outside stix (the console, runpodctl): kept, as the user may want its volume.
			st.Status, st.Reason = cloud.NodeStopped, "pod "+pd.ID+" was stopped outside stix (`stix down` deletes it)"
		default:
			st.Status, st.Reason = cloud.NodeMissing, "pod "+pd.ID+" is "+pd.DesiredStatus
			if pd.Interruptible && pd.DesiredStatus == "EXITED" {
				st.Reason += ": interruptible pod preempted"
			}
			if pd.DesiredStatus == "EXITED" {
				leftovers = append(leftovers, pd.ID)
			}
		}
		states = append(states, st)
	}
	if s != nil && len(pods) > 0 && !slices.ContainsFunc(states, func(st cloud.NodeState) bool { return st.Status != cloud.NodeMissing }) {
		if p.deletePods(ctx, c, place, leftovers) == nil {
			_ = p.m.Forget(ref.Name)
		}
	}
	return states, nil
}

// Terminate deletes the cluster's pods (found by name too). A cluster that is gone already succeeds.
func (p *Provider) Terminate(ctx context.Context, ref cloud.ClusterRef) error {
	ids, _, err := p.locate(ref)
	if err != nil {
		return err
	}
	c, err := newClient()
	if err != nil {
		return err
	}
	place := cloud.Place{Cloud: Name}
	all, err := c.pods(ctx)
	if err != nil {
		return fmt.Errorf("terminate runpod cluster %s: %w", ref.Name, classify("list pods", place, err))
	}
	var live []string
	for _, pd := range mine(all, ref.Name, ids) {
		if pd.DesiredStatus != "TERMINATED" {
			live = append(live, pd.ID)
		}
	}
	if err := p.deletePods(ctx, c, place, live); err != nil {
		return fmt.Errorf("terminate runpod cluster %s: %w", ref.Name, err)
	}
	return p.m.Forget(ref.Name)
}

// deletePods deletes the pods; one RunPod no longer knows is gone already.
func (p *Provider) deletePods(ctx context.Context, c *client, place cloud.Place, ids []string) error {
	var errs []error
	for _, id := range ids {
		err := c.delete(ctx, id)
		var api *apiError
		if errors.As(err, &api) && api.Status == 404 {
			continue
		}
		if err != nil {
			errs = append(errs, classify("delete pod "+id, place, err))
		}
	}
	return errors.Join(errs...)
}
