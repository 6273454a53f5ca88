package lambda

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
)

// state is what stix keeps of a Lambda cluster, in Home/lambda/clusters/NAME.json; the instances carry the
// cluster's name (instanceName), so that they are found without it.
type state struct {
	Region      string   `json:"region"`
	InstanceIDs []string `json:"instance_ids"` // rank order
	vm.Cluster
}

// handle is the cluster's Handle: enough to find its instances.
type handle struct {
	Cluster     string   `json:"cluster"`
	Region      string   `json:"region"`
	InstanceIDs []string `json:"instance_ids"`
}

// instanceName is the name the cluster's instances carry: the cluster's and this user's (Lambda allows 64
// characters), so that `status -r` and `down` find them when stix lost its record.
func instanceName(cluster string) string {
	if len(cluster) > 54 {
		cluster = cluster[:54]
	}
	return cluster + "-" + vm.UserHash()
}

// keyName is the SSH key stix registers: one per user of this machine.
func keyName() string { return "stix-" + vm.UserHash() }

// Provision launches the cluster's instances in the offer's region after checking that Lambda reports
// capacity there, waits until they are active, and deploys the agent on each over SSH. A cluster that exists
// (Lambda cannot stop one) has its agents deployed again. A new cluster that fails leaves nothing behind: its
// instances are terminated and an SSH key registered for it deleted.
func (p *Provider) Provision(ctx context.Context, req cloud.ProvisionRequest) (*cloud.ClusterInfo, error) {
	return vm.Provision(ctx, p.m, req, func(s *state) int { return len(s.InstanceIDs) },
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
	region, typeName := vm.First(req.Offer.Region, r.Region), vm.First(req.Offer.InstanceType, r.InstanceType)
	place := cloud.Place{Cloud: Name, Region: region}
	if region == "" || typeName == "" {
		return nil, fmt.Errorf("the offer names no region or instance type (region %q, instance type %q)", region, typeName)
	}
	cat, err := p.opts.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := cat.ValidateLocation(region, ""); err != nil {
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

	req.Report("checking capacity of " + typeName + " in " + region)
	types, err := c.instanceTypes(ctx)
	if err != nil {
		return nil, classify("list instance types", place, err)
	}
	ty, ok := types[typeName]
	if !ok {
		return nil, &cloud.InvalidConfigError{Place: place, Reason: "Lambda does not offer instance type " + typeName + " (any more): refresh the catalog (`stix show-gpus --infra lambda`)"}
	}
	if !slices.ContainsFunc(ty.Regions, func(rg regionRef) bool { return rg.Name == region }) {
		return nil, &cloud.CapacityError{Place: place, Reason: typeName + " has no capacity available in " + region + " now"}
	}

	// What is made from here on is undone when the launch fails.
	var made struct {
		keyID     string
		instances []string
	}
	defer func() {
		if err == nil {
			return
		}
		cleanup := context.WithoutCancel(ctx)
		var errs []error
		if len(made.instances) > 0 {
			errs = append(errs, p.terminateInstances(cleanup, c, place, made.instances))
		}
		if made.keyID != "" {
			errs = append(errs, classify("delete SSH key", place, c.deleteSSHKey(cleanup, made.keyID)))
		}
		errs = append(errs, p.m.Forget(name))
		if cerr := errors.Join(errs...); cerr != nil {
			err = fmt.Errorf("%w (cleaning up: %v)", err, cerr)
		}
	}()

	if made.keyID, err = ensureKey(ctx, c, place, string(pub), p.m.Root); err != nil {
		return nil, err
	}
	n := r.Nodes()
	req.Report(fmt.Sprintf("launching %d %s instance(s) in %s", n, typeName, region))
	ids, err := c.launch(ctx, region, typeName, keyName(), instanceName(name), n)
	made.instances = ids
	if err != nil {
		return nil, classify("launch instances", place, err)
	}
	if len(ids) != n {
		return nil, fmt.Errorf("lambda launched %d instances for %d nodes", len(ids), n)
	}
	s := &state{Region: region, InstanceIDs: ids}
	if s.Cluster, err = vm.NewCluster(name, req.Secret); err != nil {
		return nil, err
	}
	if err := p.m.WriteState(name, s); err != nil {
		return nil, err
	}
	return p.bringUp(ctx, c, name, s, req.Report)
}

// ensureKey makes sure Lambda has stix's public key under keyName, registering it when absent (its id is
// returned then, for the cleanup of a failed launch). A key of that name with another public key is refused:
// instances launched with it would not let stix in.
func ensureKey(ctx context.Context, c *client, place cloud.Place, pub, root string) (registered string, err error) {
	keys, err := c.sshKeys(ctx)
	if err != nil {
		return "", classify("list SSH keys", place, err)
	}
	for _, k := range keys {
		if k.Name != keyName() {
			continue
		}
		if sameKey(k.PublicKey, pub) {
			return "", nil
		}
		return "", &cloud.InvalidConfigError{Place: cloud.Place{Cloud: Name}, Reason: fmt.Sprintf(
			"Lambda has an SSH key named %s that is not stix's key (%s/ssh/stix-key): delete that key in Lambda's console "+
				"(https://cloud.lambdalabs.com/ssh-keys; running instances keep it) and launch again", keyName(), root)}
	}
	k, err := c.addSSHKey(ctx, keyName(), pub)
	if err != nil {
		return "", classify("add SSH key", place, err)
	}
	return k.ID, nil
}

// sameKey compares two authorized_keys lines by type and key, ignoring comments.
func sameKey(a, b string) bool {
	fa, fb := strings.Fields(a), strings.Fields(b)
	return len(fa) >= 2 && len(fb) >= 2 && fa[0] == fb[0] && fa[1] == fb[1]
}

// bringUp waits for the instances to be active, then deploys the agents and records the nodes.
func (p *Provider) bringUp(ctx context.Context, c *client, name string, s *state, report func(string)) (*cloud.ClusterInfo, error) {
	place := cloud.Place{Cloud: Name, Region: s.Region}
	var insts []instance
	err := p.m.Poll(ctx, fmt.Sprintf("instances %s are not active", strings.Join(s.InstanceIDs, ", ")), func(ctx context.Context) (bool, error) {
		all, err := c.instances(ctx)
		if err != nil {
			return false, classify("list instances", place, err)
		}
		insts = byID(all, s.InstanceIDs)
		for i, in := range insts {
			switch {
			case in.ID == "" || in.Status == "terminated" || in.Status == "terminating":
				return false, &cloud.CapacityError{Place: place, Reason: fmt.Sprintf("instance %s of node %d ended while booting", s.InstanceIDs[i], i)}
			case in.Status != "active" || in.IP == "":
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	hosts := make([]vm.Host, len(insts))
	for i, in := range insts {
		hosts[i] = vm.Host{ID: in.ID, PrivateIP: vm.First(in.PrivateIP, in.IP), PublicIP: in.IP}
	}
	return p.m.Finish(ctx, place, name, hosts, s, &s.Cluster, report,
		handle{Cluster: name, Region: s.Region, InstanceIDs: s.InstanceIDs})
}

// byID returns the instances in the order of ids; one Lambda does not list is the zero instance.
func byID(all []instance, ids []string) []instance { return vm.InOrder(all, ids, instanceID) }

func instanceID(in instance) string { return in.ID }

// located is the cluster's instance ids (rank order) and whether stix has its state.
func (p *Provider) locate(ref cloud.ClusterRef) (ids []string, s *state, err error) {
	return vm.Locate(p.m, ref, func(s *state) []string { return s.InstanceIDs },
		func(h *handle) []string { return h.InstanceIDs })
}

// mine lists the cluster's instances: those of ids, in their order, then others carrying its name.
func mine(all []instance, cluster string, ids []string) []instance {
	return vm.Mine(all, ids, instanceID, func(id string) instance { return instance{ID: id, Status: "terminated"} },
		func(in instance) bool { return in.Name == instanceName(cluster) })
}

// Query reports Lambda's view of each node: active is running, booting or unhealthy pending, and an instance
// Lambda no longer lists is missing. A cluster whose instances are all gone is forgotten.
func (p *Provider) Query(ctx context.Context, ref cloud.ClusterRef) ([]cloud.NodeState, error) {
	ids, s, err := p.locate(ref)
	if err != nil {
		return nil, err
	}
	c, err := newClient()
	if err != nil {
		return nil, err
	}
	all, err := c.instances(ctx)
	if err != nil {
		return nil, classify("list instances", cloud.Place{Cloud: Name}, err)
	}
	insts := mine(all, ref.Name, ids)
	var states []cloud.NodeState
	gone := 0
	for i, in := range insts {
		st := cloud.NodeState{Rank: i}
		switch in.Status {
		case "active":
			st.Status = cloud.NodeRunning
		case "booting", "unhealthy":
			st.Status, st.Reason = cloud.NodePending, "instance "+in.ID+" is "+in.Status
		default:
			st.Status, st.Reason = cloud.NodeMissing, "instance "+in.ID+" is "+in.Status
			gone++
		}
		states = append(states, st)
	}
	if s != nil && gone == len(insts) {
		_ = p.m.Forget(ref.Name)
	}
	return states, nil
}

// Terminate terminates the cluster's instances (found by name too) and waits until Lambda no longer lists
// them. A cluster that is gone already succeeds.
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
	all, err := c.instances(ctx)
	if err != nil {
		return fmt.Errorf("terminate lambda cluster %s: %w", ref.Name, classify("list instances", place, err))
	}
	var live []string
	for _, in := range mine(all, ref.Name, ids) {
		if in.Status != "terminated" {
			live = append(live, in.ID)
		}
	}
	if err := p.terminateInstances(ctx, c, place, live); err != nil {
		return fmt.Errorf("terminate lambda cluster %s: %w", ref.Name, err)
	}
	return p.m.Forget(ref.Name)
}

// terminateInstances terminates the instances and waits until Lambda no longer lists them as running.
func (p *Provider) terminateInstances(ctx context.Context, c *client, place cloud.Place, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	var api *apiError
	if err := c.terminate(ctx, ids); err != nil && !(errors.As(err, &api) && api.Code == "global/object-does-not-exist") {
		return classify("terminate instances", place, err)
	}
	return p.m.Poll(ctx, fmt.Sprintf("instances %s are not terminated", strings.Join(ids, ", ")), func(ctx context.Context) (bool, error) {
		all, err := c.instances(ctx)
		if err != nil {
			return false, classify("list instances", place, err)
		}
		for _, in := range byID(all, ids) {
			if in.ID != "" && in.Status != "terminated" {
				return false, nil
			}
		}
		return true, nil
	})
}
