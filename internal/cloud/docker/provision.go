package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/stix-run/stix/internal/agent/agenttls"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/nodeagent"
	"github.com/stix-run/stix/internal/config"
	"github.com/stix-run/stix/internal/dockerapi"
	"github.com/stix-run/stix/internal/transport"
	dockertransport "github.com/stix-run/stix/internal/transport/docker"
)

// Labels on every container and network stix makes: `status -r` finds a cluster's nodes by them. LabelHome
// keeps apart the clusters of different STIX_HOMEs (users, test runs) that share one engine.
const (
	LabelCluster = "stix.cluster"
	LabelRank    = "stix.rank"
	LabelHome    = "stix.home"
)

// agentDir is the agent's directory in a node container; the jobs' home is the container user's.
const agentDir = "~/.stix/agent"

// handle is ClusterInfo.Handle for Docker clusters.
type handle struct {
	Network    string   `json:"network"`
	Containers []string `json:"containers"` // names, in rank order
}

func (p *Provider) networkName(cluster string) string { return "stix-" + p.ns + "-" + cluster }
func (p *Provider) containerName(cluster string, rank int) string {
	return fmt.Sprintf("stix-%s-%s-%d", p.ns, cluster, rank)
}
func (p *Provider) labels(cluster string) map[string]string {
	return map[string]string{LabelCluster: cluster, LabelHome: p.ns}
}

// Provision creates (or resumes) the cluster's network and containers and deploys the agent into each.
func (p *Provider) Provision(ctx context.Context, req cloud.ProvisionRequest) (*cloud.ClusterInfo, error) {
	cli, err := p.client()
	if err != nil {
		return nil, err
	}
	name, n := req.Cluster.Name, req.Requirements.Nodes()
	base, err := runOptions(ctx)
	if err != nil {
		return nil, &cloud.InvalidConfigError{Place: cloud.Place{Cloud: Name}, Reason: err.Error()}
	}
	if req.Requirements.FUSE {
		allowFUSE(&base.HostConfig)
	}
	image, err := p.image(ctx, cli, req.Requirements.ImageID, req.Report)
	if err != nil {
		return nil, err
	}
	if err := p.ensureNetwork(ctx, cli, name); err != nil {
		return nil, err
	}
	ports, err := portBindings(req.Requirements.Ports)
	if err != nil {
		return nil, &cloud.InvalidConfigError{Place: cloud.Place{Cloud: Name}, Reason: err.Error()}
	}
	h := handle{Network: p.networkName(name)}
	for rank := range n {
		h.Containers = append(h.Containers, p.containerName(name, rank))
	}
	ensure := func(ctx context.Context, rank int) (bool, error) {
		var pb map[string][]dockerapi.PortBinding
		if rank == 0 {
			pb = ports
		}
		return p.ensureContainer(ctx, cli, name, rank, image, base, pb)
	}
	// The cluster is new when no container of it exists: any rank's may have survived an interrupted launch.
	existing, err := p.containers(ctx, cli, name)
	if err != nil {
		return nil, err
	}
	secret := req.Secret
	if len(existing) == 0 && secret == "" {
		// A new cluster has no secret to keep, so each node's agent can start as soon as its own container runs:
		// the engine's slowest container start no longer holds back every agent.
		if secret, err = nodeagent.NewSecret(); err != nil {
			return nil, err
		}
	} else {
		// A resumed cluster keeps the secret its agents have, read once every container runs.
		if err := cloud.EachNode(ctx, n, func(ctx context.Context, rank int) error { _, err := ensure(ctx, rank); return err }); err != nil {
			return nil, err
		}
		ensure = nil
	}
	req.Report(fmt.Sprintf("starting %d container(s) and their agents: %s", n, strings.Join(h.Containers, ", ")))
	return p.bringUp(ctx, cli, name, h, secret, ensure)
}

// image is the container image of a task: docker:<image> when it names one (which must be on the engine), else
// the node image, built here on first use.
func (p *Provider) image(ctx context.Context, cli *dockerapi.Client, imageID string, report func(string)) (string, error) {
	if ref, ok := strings.CutPrefix(imageID, "docker:"); ok {
		if err := RequireImage(ctx, cli, ref); err != nil {
			var missing *MissingImageError
			if errors.As(err, &missing) {
				return "", &cloud.InvalidConfigError{Place: cloud.Place{Cloud: Name}, Reason: missing.Error()}
			}
			return "", err
		}
		return ref, nil
	}
	report("preparing the node image " + p.opts.NodeImage)
	bin, err := p.opts.AgentBinary()
	if err != nil {
		return "", err
	}
	if _, err := EnsureNodeImage(ctx, cli, p.opts.NodeImage, bin); err != nil {
		return "", err
	}
	return p.opts.NodeImage, nil
}

func (p *Provider) ensureNetwork(ctx context.Context, cli *dockerapi.Client, cluster string) error {
	err := cli.NetworkInspect(ctx, p.networkName(cluster))
	if err == nil {
		return nil
	}
	if !dockerapi.IsNotFound(err) {
		return fmt.Errorf("docker: inspect network %s: %w", p.networkName(cluster), err)
	}
	err = cli.NetworkCreate(ctx, p.networkName(cluster), "", p.labels(cluster))
	if err != nil {
		return fmt.Errorf("docker: create network %s: %w", p.networkName(cluster), err)
	}
	return nil
}

// ensureContainer creates the node's container unless it exists, and starts it unless it runs; created says
// it made the container.
// base holds what docker.run_options set (runOptions). A task port that something else on this host holds (another
// cluster's container, any process) is published on a port the engine picks instead, so that two clusters (two
// serve replicas) with the same `ports` both run; `stix status --endpoints` names the host port.
func (p *Provider) ensureContainer(ctx context.Context, cli *dockerapi.Client, cluster string, rank int, image string, base dockerapi.ContainerConfig, ports map[string][]dockerapi.PortBinding) (created bool, err error) {
	cname := p.containerName(cluster, rank)
	c, err := cli.ContainerInspect(ctx, cname)
	switch {
	case dockerapi.IsNotFound(err):
		if err := p.createContainer(ctx, cli, cluster, rank, image, base, ports); err != nil {
			return false, err
		}
		created = true
	case err != nil:
		return false, fmt.Errorf("docker: inspect container %s: %w", cname, err)
	case c.State != nil && c.State.Running:
		return false, nil
	}
	err = cli.ContainerStart(ctx, cname)
	if err != nil && created && len(ports) > 0 && portTaken(err) {
		if err := cli.ContainerRemove(ctx, cname, true, true); err != nil {
			return false, fmt.Errorf("docker: remove container %s: %w", cname, err)
		}
		if err := p.createContainer(ctx, cli, cluster, rank, image, base, anyHostPort(ports)); err != nil {
			return false, err
		}
		err = cli.ContainerStart(ctx, cname)
	}
	if err != nil {
		return created, fmt.Errorf("docker: start container %s: %w", cname, err)
	}
	return created, nil
}

func (p *Provider) createContainer(ctx context.Context, cli *dockerapi.Client, cluster string, rank int, image string, base dockerapi.ContainerConfig, ports map[string][]dockerapi.PortBinding) error {
	cname := p.containerName(cluster, rank)
	exposed := map[string]struct{}{}
	for port := range ports {
		exposed[port] = struct{}{}
	}
	init := true
	labels := p.labels(cluster)
	labels[LabelRank] = strconv.Itoa(rank)
	cfg := base
	cfg.Image, cfg.Cmd, cfg.Hostname = image, []string{"sleep", "infinity"}, fmt.Sprintf("%s-%d", cluster, rank)
	cfg.Labels, cfg.ExposedPorts, cfg.Networks = labels, exposed, []string{p.networkName(cluster)}
	cfg.HostConfig.Init, cfg.HostConfig.PortBindings = &init, ports
	if _, err := cli.ContainerCreate(ctx, cname, cfg); err != nil {
		return fmt.Errorf("docker: create container %s: %w", cname, err)
	}
	return nil
}

// allowFUSE lets a node container make FUSE mounts (rclone, for MOUNT and MOUNT_CACHED buckets): the host's
// /dev/fuse, CAP_SYS_ADMIN for mount(2), and no AppArmor profile (Docker's default one denies mount even with
// the capability; the option is ignored where AppArmor is off). Containers made before keep what they had.
func allowFUSE(hc *dockerapi.HostConfig) {
	if !slices.ContainsFunc(hc.Devices, func(d dockerapi.DeviceMapping) bool { return d.PathInContainer == "/dev/fuse" }) {
		hc.Devices = append(hc.Devices, dockerapi.DeviceMapping{PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rwm"})
	}
	if !slices.Contains(hc.CapAdd, "SYS_ADMIN") && !slices.Contains(hc.CapAdd, "CAP_SYS_ADMIN") && !hc.Privileged {
		hc.CapAdd = append(hc.CapAdd, "SYS_ADMIN")
	}
	if !slices.ContainsFunc(hc.SecurityOpt, func(o string) bool { return strings.HasPrefix(o, "apparmor") }) {
		hc.SecurityOpt = append(hc.SecurityOpt, "apparmor=unconfined")
	}
}

// portTaken says that the engine could not publish a port because the host port is in use: by another
// container ("port is already allocated") or by another process ("address already in use").
func portTaken(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "port is already allocated") || strings.Contains(msg, "address already in use")
}

// anyHostPort is ports with every host port left to the engine.
func anyHostPort(ports map[string][]dockerapi.PortBinding) map[string][]dockerapi.PortBinding {
	out := make(map[string][]dockerapi.PortBinding, len(ports))
	for port := range ports {
		out[port] = []dockerapi.PortBinding{{}}
	}
	return out
}

// runOptions is the part of every node container's create body that the config's docker.run_options set; an
// error names the option and where it was set.
func runOptions(ctx context.Context) (dockerapi.ContainerConfig, error) {
	var base dockerapi.ContainerConfig
	c := config.FromContext(ctx)
	if err := dockerapi.ApplyRunOptions(&base, c.DockerRunOptions()); err != nil {
		o, _ := c.Origin("docker.run_options")
		return base, fmt.Errorf("%s: docker.run_options: %w", o, err)
	}
	return base, nil
}

// portBindings publishes the task's ports ("8080", "10000-10010") on the head node, each on the same port of the
// host: the engine's PortBindings, keyed "8080/tcp".
func portBindings(ports []string) (map[string][]dockerapi.PortBinding, error) {
	if len(ports) == 0 {
		return nil, nil
	}
	out := map[string][]dockerapi.PortBinding{}
	for _, p := range ports {
		lo, hi, isRange := strings.Cut(p, "-")
		if !isRange {
			hi = lo
		}
		from, err1 := strconv.Atoi(lo)
		to, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || from < 1 || to > 65535 || from > to {
			return nil, fmt.Errorf("ports %v: invalid port or range %q (want 1-65535, or a range such as 10000-10010)", ports, p)
		}
		for port := from; port <= to; port++ {
			n := strconv.Itoa(port)
			out[n+"/tcp"] = []dockerapi.PortBinding{{HostPort: n}}
		}
	}
	return out, nil
}

// bringUp deploys (or finds) the agent in every node container and describes the cluster. before, unless nil,
// runs first for each node, in the goroutine that then deploys that node's agent; it says whether it made the
// node's container (a fresh node has no agent to look for).
func (p *Provider) bringUp(ctx context.Context, cli *dockerapi.Client, name string, h handle, secret string, before func(ctx context.Context, rank int) (fresh bool, err error)) (*cloud.ClusterInfo, error) {
	bin, err := p.opts.AgentBinary()
	if err != nil {
		return nil, err
	}
	if secret == "" {
		if secret, err = existingSecret(ctx, cli, h); err != nil {
			return nil, err
		}
	}
	ca, err := p.clusterCA(name)
	if err != nil {
		return nil, err
	}
	nodes := make([]cloud.NodeInfo, len(h.Containers))
	err = cloud.EachNode(ctx, len(h.Containers), func(ctx context.Context, rank int) (err error) {
		fresh := false
		if before != nil {
			if fresh, err = before(ctx, rank); err != nil {
				return err
			}
		}
		nodes[rank], err = deployNode(ctx, cli, h.Network, h.Containers[rank], rank, bin, secret, ca, fresh)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("docker cluster %s: %w", name, err)
	}
	raw, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	return &cloud.ClusterInfo{Cloud: Name, Region: Region, Nodes: nodes, Secret: secret, CACert: string(ca.CertPEM), Handle: raw}, nil
}

func deployNode(ctx context.Context, cli *dockerapi.Client, net, cname string, rank int, bin, secret string, ca *agenttls.CA, fresh bool) (cloud.NodeInfo, error) {
	tr, err := dockertransport.New(cli, cname, dockertransport.Options{Network: net})
	if err != nil {
		return cloud.NodeInfo{}, err
	}
	ip, err := tr.IP(ctx)
	if err != nil {
		return cloud.NodeInfo{}, fmt.Errorf("node %d: %w", rank, err)
	}
	home, err := tr.Home(ctx)
	if err != nil {
		return cloud.NodeInfo{}, fmt.Errorf("node %d: %w", rank, err)
	}
	addr, health, err := nodeagent.Deploy(ctx, tr, nodeagent.DeployOptions{Binary: bin, Dir: agentDir, Home: "~", Listen: ip + ":0", Secret: secret, CA: ca, Fresh: fresh})
	if err != nil {
		return cloud.NodeInfo{}, fmt.Errorf("node %d: %w", rank, err)
	}
	dir, _ := tr.Resolve(ctx, agentDir)
	return cloud.NodeInfo{Rank: rank, InternalIP: ip, AgentAddr: addr, Home: home, AgentDir: dir,
		Resources: health.Resources}, nil
}

// existingSecret reads the secret the cluster's agents were deployed with, from the first node (in rank order)
// that has one: an interrupted launch may have left the head's container new and a worker's agent running. A
// cluster with none gets a new one.
func existingSecret(ctx context.Context, cli *dockerapi.Client, h handle) (string, error) {
	for _, cname := range h.Containers {
		tr, err := dockertransport.New(cli, cname, dockertransport.Options{Network: h.Network})
		if err != nil {
			continue
		}
		var out strings.Builder
		if code, err := tr.Run(ctx, "cat "+agentDir+"/"+nodeagent.SecretFile, transport.RunOptions{Stdout: &out}); err == nil && code == 0 {
			if s := strings.TrimSpace(out.String()); s != "" {
				return s, nil
			}
		}
	}
	return nodeagent.NewSecret()
}

// containers lists a cluster's containers by label, in rank order.
func (p *Provider) containers(ctx context.Context, cli *dockerapi.Client, cluster string) ([]dockerapi.ContainerSummary, error) {
	cs, err := cli.ContainerList(ctx, true, LabelCluster+"="+cluster, LabelHome+"="+p.ns)
	if err != nil {
		return nil, fmt.Errorf("docker: list containers of %s: %w", cluster, err)
	}
	sort.Slice(cs, func(i, j int) bool {
		a, _ := strconv.Atoi(cs[i].Labels[LabelRank])
		b, _ := strconv.Atoi(cs[j].Labels[LabelRank])
		return a < b
	})
	return cs, nil
}

func (p *Provider) parseHandle(ref cloud.ClusterRef) handle {
	var h handle
	_ = json.Unmarshal(ref.Handle, &h)
	if h.Network == "" {
		h.Network = p.networkName(ref.Name)
	}
	return h
}

// Query reports each node's container: running (and its agent answering), stopped, or gone.
func (p *Provider) Query(ctx context.Context, ref cloud.ClusterRef) ([]cloud.NodeState, error) {
	cli, err := p.client()
	if err != nil {
		return nil, err
	}
	h := p.parseHandle(ref)
	cs, err := p.containers(ctx, cli, ref.Name)
	if err != nil {
		return nil, err
	}
	states := make([]cloud.NodeState, 0, max(len(h.Containers), len(cs)))
	for rank, cname := range h.Containers {
		st := cloud.NodeState{Rank: rank, Status: cloud.NodeMissing, Reason: "container " + cname + " is gone"}
		i := slices.IndexFunc(cs, func(c dockerapi.ContainerSummary) bool { return slices.Contains(c.Names, "/"+cname) })
		if i >= 0 {
			switch cs[i].State {
			case "running":
				st.Status, st.Reason = cloud.NodeRunning, ""
			case "exited", "created":
				st.Status, st.Reason = cloud.NodeStopped, "container "+cname+" is "+cs[i].Status
			default:
				st.Status, st.Reason = cloud.NodePending, "container "+cname+" is "+cs[i].State
			}
		}
		states = append(states, st)
	}
	if len(h.Containers) == 0 && len(cs) > 0 { // a handle-less reference: report what the labels find
		for rank, c := range cs {
			st := cloud.NodeState{Rank: rank, Status: cloud.NodeStopped}
			if c.State == "running" {
				st.Status = cloud.NodeRunning
			}
			states = append(states, st)
		}
	}
	return states, nil
}

// Stop stops the containers; their files stay.
func (p *Provider) Stop(ctx context.Context, ref cloud.ClusterRef) error {
	return p.eachContainer(ctx, ref, func(cli *dockerapi.Client, id string) error {
		return cli.ContainerStop(ctx, id)
	})
}

// Start starts the containers again and redeploys their agents, which find their job tables on disk.
func (p *Provider) Start(ctx context.Context, ref cloud.ClusterRef) (*cloud.ClusterInfo, error) {
	cli, err := p.client()
	if err != nil {
		return nil, err
	}
	h := p.parseHandle(ref)
	if err := p.eachContainer(ctx, ref, func(cli *dockerapi.Client, id string) error {
		return cli.ContainerStart(ctx, id)
	}); err != nil {
		return nil, err
	}
	return p.bringUp(ctx, cli, ref.Name, h, "", nil)
}

// Terminate removes the containers and the network; a cluster that is gone already is not an error.
func (p *Provider) Terminate(ctx context.Context, ref cloud.ClusterRef) error {
	if err := p.eachContainer(ctx, ref, func(cli *dockerapi.Client, id string) error {
		return cli.ContainerRemove(ctx, id, true, true)
	}); err != nil {
		return err
	}
	cli, err := p.client()
	if err != nil {
		return err
	}
	if err := cli.NetworkRemove(ctx, p.networkName(ref.Name)); err != nil && !dockerapi.IsNotFound(err) {
		return fmt.Errorf("docker: remove network %s: %w", p.networkName(ref.Name), err)
	}
	if err := os.RemoveAll(p.caDir(ref.Name)); err != nil {
		return fmt.Errorf("docker: remove the CA of %s: %w", ref.Name, err)
	}
	return nil
}

// eachContainer applies fn to every container of the cluster (found by label), stopping at the first error.
func (p *Provider) eachContainer(ctx context.Context, ref cloud.ClusterRef, fn func(*dockerapi.Client, string) error) error {
	cli, err := p.client()
	if err != nil {
		return err
	}
	cs, err := p.containers(ctx, cli, ref.Name)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if err := fn(cli, c.ID); err != nil && !dockerapi.IsNotFound(err) {
			return fmt.Errorf("docker: container %s: %w", strings.TrimPrefix(firstName(c.Names), "/"), err)
		}
	}
	return nil
}

func firstName(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// Transport reaches the container of the node of the given rank.
func (p *Provider) Transport(_ context.Context, info *cloud.ClusterInfo, rank int) (transport.Transport, error) {
	cli, err := p.client()
	if err != nil {
		return nil, err
	}
	var h handle
	if err := json.Unmarshal(info.Handle, &h); err != nil || rank < 0 || rank >= len(h.Containers) {
		return nil, fmt.Errorf("docker: no container for node %d in the cluster's record", rank)
	}
	return dockertransport.New(cli, h.Containers[rank], dockertransport.Options{Network: h.Network})
}
