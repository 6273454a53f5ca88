package cloud

import (
	"encoding/json"
	"strconv"
)

// Amount is a requested quantity: exactly Value, or Value or more. The zero value asks for nothing.
type Amount struct {
	Value  float64 `json:"value"`
	OrMore bool    `json:"or_more,omitempty"`
}

// IsSet reports whether the amount asks for anything.
func (a Amount) IsSet() bool { return a.Value > 0 }

// String writes the amount as SkyPilot does: "4", "4+", "0.5".
func (a Amount) String() string {
	s := strconv.FormatFloat(a.Value, 'f', -1, 64)
	if a.OrMore {
		s += "+"
	}
	return s
}

// Memory is a requested amount of memory in GB, or, with PerCPU, Value GB for every requested CPU (SkyPilot's
// "8x").
type Memory struct {
	Value  float64 `json:"value"`
	OrMore bool    `json:"or_more,omitempty"`
	PerCPU bool    `json:"per_cpu,omitempty"`
}

// IsSet reports whether any memory is requested.
func (m Memory) IsSet() bool { return m.Value > 0 }

// GB resolves the request to gigabytes for a node with cpus CPUs.
func (m Memory) GB(cpus float64) Amount {
	if m.PerCPU {
		return Amount{Value: m.Value * cpus, OrMore: m.OrMore}
	}
	return Amount{Value: m.Value, OrMore: m.OrMore}
}

// String writes the request as SkyPilot does: "16", "16+", "8x", "8x+".
func (m Memory) String() string {
	s := strconv.FormatFloat(m.Value, 'f', -1, 64)
	if m.PerCPU {
		s += "x"
	}
	if m.OrMore {
		s += "+"
	}
	return s
}

// Requirements is what a task asks of each node, in provider terms: the lead converts a task's `resources`
// into it. Empty fields leave the choice to the provider.
type Requirements struct {
	CPUs   Amount `json:"cpus,omitzero"`
	Memory Memory `json:"memory,omitzero"`
	// Accelerators maps a canonical accelerator name ("H100", "A100-80GB", "tpu-v5e-8") to a count per node,
	// fractional for shared GPUs.
	Accelerators map[string]float64 `json:"accelerators,omitempty"`
	InstanceType string             `json:"instance_type,omitempty"`
	UseSpot      bool               `json:"use_spot,omitempty"`
	Region       string             `json:"region,omitempty"`
	Zone         string             `json:"zone,omitempty"`
	// Ports to open on the head node: "8080" or a range "10000-10010".
	Ports []string `json:"ports,omitempty"`
	// ImageID is a provider image, or "docker:<image>" for a container image.
	ImageID    string            `json:"image_id,omitempty"`
	DiskSizeGB int               `json:"disk_size_gb,omitempty"`
	DiskTier   string            `json:"disk_tier,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	// NumNodes is the cluster's size; 0 means 1.
	NumNodes int `json:"num_nodes,omitempty"`
	// FUSE asks for nodes that can make FUSE mounts: the task mounts buckets (MOUNT, MOUNT_CACHED). Providers
	// whose nodes need it granted (Docker: the FUSE device and CAP_SYS_ADMIN) do so (docs/storage-mounts.md).
	FUSE bool `json:"fuse,omitempty"`
}

// Nodes returns the number of nodes asked for, at least 1.
func (r Requirements) Nodes() int { return max(r.NumNodes, 1) }

// Resources is what one node has (or an offer gives each node).
type Resources struct {
	CPUs     float64 `json:"cpus"`
	MemoryGB float64 `json:"memory_gb"`
	// Accelerators maps canonical names to counts.
	Accelerators map[string]float64 `json:"accelerators,omitempty"`
}

// Offer is one concrete, launchable kind of node: a place and a shape with a price.
type Offer struct {
	Cloud        string `json:"cloud"`
	Region       string `json:"region,omitempty"`
	Zone         string `json:"zone,omitempty"`
	InstanceType string `json:"instance_type,omitempty"`
	Resources
	Spot bool `json:"spot,omitempty"`
	// HourlyPrice is the price of one node for one hour in USD; 0 for infrastructure the user already has.
	HourlyPrice float64 `json:"hourly_price"`
	// RegionIsCluster says that the region names one of the user's own clusters (an SSH node pool, a Kubernetes
	// context, a Slurm cluster): offers in two regions are two different machines, kept apart in the dry run.
	RegionIsCluster bool `json:"region_is_cluster,omitempty"`
}

// ClusterRef names a cluster for its provider: its name and the provider's Handle from ClusterInfo (empty when
// the caller has none yet).
type ClusterRef struct {
	Name   string          `json:"name"`
	Handle json.RawMessage `json:"handle,omitempty"`
}

// ProvisionRequest asks a provider for a cluster.
type ProvisionRequest struct {
	// Cluster names the cluster; its Handle is set when the cluster is known already (relaunch, recovery).
	Cluster ClusterRef
	// Offer is the resource the optimizer chose, from this provider's Feasible.
	Offer Offer
	// Requirements are the task's, for what an offer does not carry (ports, image, disk, labels, nodes).
	Requirements Requirements
	// Secret authenticates calls to the agents (Authorization: Bearer). Empty: the provider keeps the existing
	// cluster's secret, or generates one (nodeagent.NewSecret). ClusterInfo.Secret returns it either way.
	Secret string
	// Progress, when set, receives short messages about what the provider is doing ("starting agent on node 1").
	Progress func(msg string)
}

// Report sends msg to Progress when there is one.
func (r ProvisionRequest) Report(msg string) {
	if r.Progress != nil {
		r.Progress(msg)
	}
}

// ClusterInfo describes a provisioned cluster. The caller persists it (it is JSON) with the cluster's record.
type ClusterInfo struct {
	Cloud  string `json:"cloud"`
	Region string `json:"region,omitempty"`
	Zone   string `json:"zone,omitempty"`
	// Nodes are in rank order; Nodes[0] is the head.
	Nodes []NodeInfo `json:"nodes"`
	// Secret authenticates calls to the agents.
	Secret string `json:"secret"`
	// CACert is the PEM certificate of the cluster's CA when its agents serve TLS (agenttls): clients trust only
	// agents it certified. Empty: the agents serve plain HTTP on loopback.
	CACert string `json:"ca_cert,omitempty"`
	// Handle is the provider's own description of the cluster (instance ids, directories, ...). It is opaque to
	// everyone else and goes back to the provider in ClusterRef.
	Handle json.RawMessage `json:"handle,omitempty"`
}

// Head returns the head node (rank 0); ok is false for a cluster without nodes.
func (c *ClusterInfo) Head() (n NodeInfo, ok bool) {
	if c == nil || len(c.Nodes) == 0 {
		return NodeInfo{}, false
	}
	return c.Nodes[0], true
}

// InternalIPs returns the nodes' internal IPs in rank order (SKYPILOT_NODE_IPS).
func (c *ClusterInfo) InternalIPs() []string {
	ips := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		ips[i] = n.InternalIP
	}
	return ips
}

// NodeInfo describes one node of a cluster.
type NodeInfo struct {
	Rank       int    `json:"rank"`
	InternalIP string `json:"internal_ip"`
	ExternalIP string `json:"external_ip,omitempty"`
	// AgentAddr is the agent's host:port as seen from the node's network; reach it with the node's
	// Transport.Dial. It may change when the cluster restarts.
	AgentAddr string `json:"agent_addr"`
	// Home is the node's home directory, an absolute path on the node.
	Home string `json:"home"`
	// AgentDir is the agent's state directory on the node (secret, agent.addr, agent.log, jobs).
	AgentDir string `json:"agent_dir"`
	// Resources are what the node's agent measured.
	Resources Resources `json:"resources"`
}

// NodeStatus is a provider's view of one node.
type NodeStatus string

// Node statuses, from the provider's point of view.
const (
	NodePending NodeStatus = "pending" // booting, stopping or not answering yet: not usable now
	NodeRunning NodeStatus = "running" // up and its agent answers
	NodeStopped NodeStatus = "stopped" // stopped, disk kept: Start brings it back
	NodeMissing NodeStatus = "missing" // gone: terminated, preempted or deleted behind stix's back
)

// NodeState is what Query reports for one node.
type NodeState struct {
	Rank   int        `json:"rank"`
	Status NodeStatus `json:"status"`
	// Reason says why a node is not running, for `status -r` ("agent process 1234 is gone").
	Reason string `json:"reason,omitempty"`
}
