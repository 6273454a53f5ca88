package paperspace

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
)

// state is what stix keeps of a Paperspace cluster, in Home/paperspace/clusters/NAME.json; the machines and the
// network carry the cluster's name (clusterName), so that they are found without it.
type state struct {
	Region     string   `json:"region"`
	NetworkID  string   `json:"network_id"`
	MachineIDs []string `json:"machine_ids"` // rank order
	vm.Cluster
}

// handle is the cluster's Handle: enough to find its machines.
type handle struct {
	Cluster    string   `json:"cluster"`
	Region     string   `json:"region"`
	MachineIDs []string `json:"machine_ids"`
}

// clusterName is the name of the cluster's network, and of its machines with their rank after it: the
// cluster's and this user's, so that `status -r` and `down` find them when stix lost its record.
func clusterName(cluster string) string {
	if len(cluster) > 54 {
		cluster = cluster[:54]
	}
	return cluster + "-" + vm.UserHash()
}

func machineName(cluster string, rank int) string {
	return clusterName(cluster) + "-" + strconv.Itoa(rank)
}

// scriptName is the startup script stix registers: one per user of this machine.
func scriptName() string { return "stix-add-key-" + vm.UserHash() }

// keyScript is the startup script that installs stix's public key for the login user, run once on a machine's
// first boot.
func keyScript(user, pub string) string {
	pub = strings.TrimSpace(pub)
	return fmt.Sprintf(`#!/bin/bash
# stix: install stix's SSH key for %[1]s
h=$(getent passwd %[1]s | cut -d: -f6)
install -d -m 700 -o %[1]s -g %[1]s "$h/.ssh"
grep -qxF '%[2]s' "$h/.ssh/authorized_keys" 2>/dev/null || echo '%[2]s' >> "$h/.ssh/authorized_keys"
chown %[1]s:%[1]s "$h/.ssh/authorized_keys" && chmod 600 "$h/.ssh/authorized_keys"
`, user, pub)
}

// Provision makes the cluster's machines in the offer's region, in a private network of its own, waits until
// they are ready, and deploys the agent on each over SSH. A cluster that exists is started if stopped and has
// its agents deployed again. A new cluster that fails leaves nothing behind: its machines and network are
// deleted, and a startup script registered for it.
func (p *Provider) Provision(ctx context.Context, req cloud.ProvisionRequest) (*cloud.ClusterInfo, error) {
	return vm.Provision(ctx, p.m, req, func(s *state) int { return len(s.MachineIDs) },
		func(ctx context.Context, s *state) (*cloud.ClusterInfo, error) {
			return p.Start(ctx, cloud.ClusterRef{Name: req.Cluster.Name})
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
	if r.UseSpot || req.Offer.Spot {
		return nil, &cloud.InvalidConfigError{Place: place, Reason: "Paperspace has no spot machines: launch without use_spot"}
	}
	if r.ImageID != "" {
		if err := p.CheckImage(r.ImageID); err != nil {
			return nil, &cloud.InvalidConfigError{Place: place, Reason: err.Error()}
		}
	}
	disk, err := diskSize(r.DiskSizeGB)
	if err != nil {
		return nil, err
	}
	if _, err := p.m.ParsePorts(r.Ports); err != nil {
		return nil, err
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

	// What is made from here on is undone when the launch fails.
	var made struct {
		scriptID, networkID string
		machines            []string
	}
	defer func() {
		if err == nil {
			return
		}
		cleanup := context.WithoutCancel(ctx)
		var errs []error
		errs = append(errs, p.deleteCluster(cleanup, c, place, made.machines, made.networkID))
		if made.scriptID != "" {
			errs = append(errs, classify("delete startup script", place, c.deleteStartupScript(cleanup, made.scriptID)))
		}
		errs = append(errs, p.m.Forget(name))
		if cerr := errors.Join(errs...); cerr != nil {
			err = fmt.Errorf("%w (cleaning up: %v)", err, cerr)
		}
	}()

	scriptID, registered, err := ensureScript(ctx, c, place, keyScript(p.m.User, string(pub)))
	if err != nil {
		return nil, err
	}
	if registered {
		made.scriptID = scriptID
	}
	req.Report("making the private network of " + name + " in " + region)
	nw, err := c.createNetwork(ctx, clusterName(name), region)
	if err != nil {
		return nil, classify("create private network", place, err)
	}
	made.networkID = nw.ID
	n := r.Nodes()
	req.Report(fmt.Sprintf("making %d %s machine(s) in %s", n, typeName, region))
	for rank := range n {
		m, err := c.createMachine(ctx, createMachine{Name: machineName(name, rank), MachineType: typeName, Region: region,
			DiskSize: disk, TemplateID: templateFor(typeName, r.ImageID), NetworkID: nw.ID, PublicIPType: "dynamic",
			StartupScriptID: scriptID, EnableNvlink: nvlink(typeName), StartOnCreate: true})
		if err != nil {
			return nil, classify(fmt.Sprintf("create machine %d of %d", rank+1, n), place, err)
		}
		made.machines = append(made.machines, m.ID)
	}
	s := &state{Region: region, NetworkID: nw.ID, MachineIDs: made.machines}
	if s.Cluster, err = vm.NewCluster(name, req.Secret); err != nil {
		return nil, err
	}
	if err := p.m.WriteState(name, s); err != nil {
		return nil, err
	}
	return p.bringUp(ctx, c, name, s, req.Report)
}

// ensureScript makes sure Paperspace has the startup script that installs stix's key, under scriptName: it is
// registered when absent (registered then, for the cleanup of a failed launch), and updated when it holds
// another script (a new key, another login user).
func ensureScript(ctx context.Context, c *client, place cloud.Place, script string) (id string, registered bool, err error) {
	scripts, err := c.startupScripts(ctx, scriptName())
	if err != nil {
		return "", false, classify("list startup scripts", place, err)
	}
	for _, s := range scripts {
		if s.Name != scriptName() {
			continue
		}
		if s.Script != script {
			if err := c.updateStartupScript(ctx, s.ID, scriptName(), script); err != nil {
				return "", false, classify("update startup script "+scriptName(), place, err)
			}
		}
		return s.ID, false, nil
	}
	s, err := c.createStartupScript(ctx, scriptName(), script)
	if err != nil {
		return "", false, classify("create startup script", place, err)
	}
	return s.ID, true, nil
}

// bringUp waits for the machines to be ready with their addresses, then deploys the agents and records the
// nodes.
func (p *Provider) bringUp(ctx context.Context, c *client, name string, s *state, report func(string)) (*cloud.ClusterInfo, error) {
	place := cloud.Place{Cloud: Name, Region: s.Region}
	var ms []machine
	err := p.m.Poll(ctx, fmt.Sprintf("machines %s are not ready", strings.Join(s.MachineIDs, ", ")), func(ctx context.Context) (bool, error) {
		all, err := c.machines(ctx)
		if err != nil {
			return false, classify("list machines", place, err)
		}
		ms = byID(all, s.MachineIDs)
		for i, m := range ms {
			switch {
			case m.ID == "":
				return false, &cloud.CapacityError{Place: place, Reason: fmt.Sprintf("machine %s of node %d is gone", s.MachineIDs[i], i)}
			case m.State != "ready" || m.PublicIP == "":
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	hosts := make([]vm.Host, len(ms))
	for i, m := range ms {
		hosts[i] = vm.Host{ID: m.ID, PrivateIP: vm.First(m.PrivateIP, m.PublicIP), PublicIP: m.PublicIP}
	}
	return p.m.Finish(ctx, place, name, hosts, s, &s.Cluster, report,
		handle{Cluster: name, Region: s.Region, MachineIDs: s.MachineIDs})
}

// byID returns the machines in the order of ids; one Paperspace does not list is the zero machine.
func byID(all []machine, ids []string) []machine { return vm.InOrder(all, ids, machineID) }

func machineID(m machine) string { return m.ID }

// locate returns the cluster's machine ids (rank order) and its state, when stix has it.
func (p *Provider) locate(ref cloud.ClusterRef) (ids []string, s *state, err error) {
	return vm.Locate(p.m, ref, func(s *state) []string { return s.MachineIDs },
		func(h *handle) []string { return h.MachineIDs })
}

// mine lists the cluster's machines: those of ids, in their order (a machine no longer listed has no state),
// then others carrying its name.
func mine(all []machine, cluster string, ids []string) []machine {
	prefix := clusterName(cluster) + "-"
	return vm.Mine(all, ids, machineID, func(id string) machine { return machine{ID: id} }, func(m machine) bool {
		rest, ok := strings.CutPrefix(m.Name, prefix)
		_, err := strconv.Atoi(rest)
		return ok && err == nil
	})
}

// Query reports Paperspace's view of each node: ready is running, provisioning, starting, restarting, upgrading
// and serviceready pending, stopping and off stopped, and a machine Paperspace no longer lists missing. A cluster
// whose machines are all gone is forgotten, and its network deleted.
func (p *Provider) Query(ctx context.Context, ref cloud.ClusterRef) ([]cloud.NodeState, error) {
	ids, s, err := p.locate(ref)
	if err != nil {
		return nil, err
	}
	c, err := newClient()
	if err != nil {
		return nil, err
	}
	all, err := c.machines(ctx)
	if err != nil {
		return nil, classify("list machines", cloud.Place{Cloud: Name}, err)
	}
	ms := mine(all, ref.Name, ids)
	var states []cloud.NodeState
	gone := 0
	for i, m := range ms {
		st := cloud.NodeState{Rank: i}
		switch m.State {
		case "ready":
			st.Status = cloud.NodeRunning
		case "provisioning", "starting", "restarting", "upgrading", "serviceready":
			st.Status, st.Reason = cloud.NodePending, "machine "+m.ID+" is "+m.State
		case "stopping", "off":
			st.Status, st.Reason = cloud.NodeStopped, "machine "+m.ID+" is "+m.State
		default:
			st.Status, st.Reason = cloud.NodeMissing, "machine "+m.ID+" is gone"
			gone++
		}
		states = append(states, st)
	}
	if s != nil && gone == len(ms) {
		if err := p.deleteCluster(ctx, c, cloud.Place{Cloud: Name, Region: s.Region}, nil, s.NetworkID); err == nil {
			_ = p.m.Forget(ref.Name)
		}
	}
	return states, nil
}

// Terminate deletes the cluster's machines (found by name too) and then its network. A cluster that is gone
// already succeeds.
func (p *Provider) Terminate(ctx context.Context, ref cloud.ClusterRef) error {
	ids, s, err := p.locate(ref)
	if err != nil {
		return err
	}
	c, err := newClient()
	if err != nil {
		return err
	}
	place := cloud.Place{Cloud: Name}
	all, err := c.machines(ctx)
	if err != nil {
		return fmt.Errorf("terminate paperspace cluster %s: %w", ref.Name, classify("list machines", place, err))
	}
	var live []string
	for _, m := range mine(all, ref.Name, ids) {
		if m.State != "" {
			live = append(live, m.ID)
		}
	}
	networkID := ""
	if s != nil {
		networkID = s.NetworkID
	}
	if networkID == "" {
		nws, err := c.networks(ctx, clusterName(ref.Name))
		if err != nil {
			return fmt.Errorf("terminate paperspace cluster %s: %w", ref.Name, classify("list private networks", place, err))
		}
		for _, nw := range nws {
			if nw.Name == clusterName(ref.Name) {
				networkID = nw.ID
			}
		}
	}
	if err := p.deleteCluster(ctx, c, place, live, networkID); err != nil {
		return fmt.Errorf("terminate paperspace cluster %s: %w", ref.Name, err)
	}
	return p.m.Forget(ref.Name)
}

// deleteCluster deletes the machines, waits until Paperspace no longer lists them, then deletes the network
// (when not empty): a network is deleted once no machine is in it.
func (p *Provider) deleteCluster(ctx context.Context, c *client, place cloud.Place, ids []string, networkID string) error {
	var api *apiError
	gone := func(err error) bool { return errors.As(err, &api) && api.Status == 404 }
	for _, id := range ids {
		if err := c.deleteMachine(ctx, id); err != nil && !gone(err) {
			return classify("delete machine "+id, place, err)
		}
	}
	if len(ids) > 0 {
		err := p.m.Poll(ctx, fmt.Sprintf("machines %s are not deleted", strings.Join(ids, ", ")), func(ctx context.Context) (bool, error) {
			all, err := c.machines(ctx)
			if err != nil {
				return false, classify("list machines", place, err)
			}
			for _, m := range byID(all, ids) {
				if m.ID != "" {
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			return err
		}
	}
	if networkID != "" {
		if err := c.deleteNetwork(ctx, networkID); err != nil && !gone(err) {
			return classify("delete private network "+networkID, place, err)
		}
	}
	return nil
}
