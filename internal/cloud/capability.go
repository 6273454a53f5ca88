package cloud

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"
)

// The optional capabilities a Provider may have beyond Provisioner. Core code asks for one with a type
// assertion (`if s, ok := p.(cloud.Stopper); ok`), never by the provider's name; what a provider lacks is refused
// before it is asked (Unsupported) with a message naming the provider. The autostop capability has its own
// file (autostop.go).

// Stopper stops clusters keeping their disks, and starts them again on the same nodes.
type Stopper interface {
	// Stop stops the nodes and the agents and jobs on them, keeping their disks.
	Stop(ctx context.Context, ref ClusterRef) error
	// Start restarts a stopped cluster on the same nodes and waits for its agents, like Provision.
	Start(ctx context.Context, ref ClusterRef) (*ClusterInfo, error)
}

// NoFUSE is a provider whose nodes cannot make FUSE mounts, which a task's MOUNT and MOUNT_CACHED buckets need:
// a launch that needs them does not provision there (Requirements.FUSE). NoFUSE says why.
type NoFUSE interface {
	NoFUSE() string
}

// MultiNode makes clusters of more than one node, which reach each other on a private network.
type MultiNode interface {
	// MaxNodes is the most nodes one cluster may have; 0 means no fixed limit (capacity still applies).
	MaxNodes() int
}

// Spot offers spot (preemptible) nodes: its offers carry Spot, and a node taken back is reported by Query as
// missing and by Provision as a *PreemptedError.
type Spot interface {
	// SpotPreemptible declares the capability; it has no behaviour.
	SpotPreemptible()
}

// PortOpener makes the ports a task lists (`resources.ports`) reachable on the head node.
type PortOpener interface {
	// OpensPorts declares the capability; the ports travel in ProvisionRequest.Requirements.Ports.
	OpensPorts()
}

// CustomImages starts nodes from the image a task names (`image_id`).
type CustomImages interface {
	// CheckImage returns nil when the provider can start nodes from imageID, else an error saying which images
	// it runs ("docker infra runs container images (image_id: docker:<image>)").
	CheckImage(imageID string) error
}

// NodeWatcher tells, as it happens, that a node of a cluster is gone: its container died or was removed, its
// pod was deleted or failed. Without it a loss is seen when something stops answering (a log stream breaks, an
// agent's silence limit, a probe), which for a node whose address goes silent takes tens of seconds.
type NodeWatcher interface {
	// WatchNodes follows the nodes of a cluster: it returns once the provider's watch is established, first
	// sends an event for each node already not running, then one per node lost. The channel is closed when ctx
	// ends or the provider's stream breaks (the caller may watch again); a node lost while nobody watched is
	// Query's to tell.
	WatchNodes(ctx context.Context, ref ClusterRef) (<-chan NodeEvent, error)
}

// NodeEvent is a change of one node that a NodeWatcher saw: Status is NodeStopped or NodeMissing, and Reason
// says what happened in the provider's words ("container stix-x-c-1 died (exit code 137)").
type NodeEvent struct {
	NodeState
	At time.Time `json:"at"`
}

// Unsupported lists what req asks of p that p has no capability for, one reason per feature, in the words of
// an InfeasibleError ("local infra has no spot instances; remove use_spot"); none when p can do it all.
func Unsupported(p Cloud, req Requirements) []string {
	name := p.Name()
	var why []string
	if n := req.Nodes(); n > 1 {
		if m, ok := p.(MultiNode); !ok {
			why = append(why, fmt.Sprintf("%s infra makes one-node clusters only; the task asks for %d nodes", name, n))
		} else if limit := m.MaxNodes(); limit > 0 && n > limit {
			why = append(why, fmt.Sprintf("%s infra makes clusters of at most %d nodes; the task asks for %d", name, limit, n))
		}
	}
	if _, ok := p.(Spot); req.UseSpot && !ok {
		why = append(why, name+" infra has no spot instances; remove use_spot")
	}
	if _, ok := p.(PortOpener); len(req.Ports) > 0 && !ok {
		why = append(why, name+" infra cannot open ports; remove ports")
	}
	if req.ImageID != "" {
		if c, ok := p.(CustomImages); !ok {
			why = append(why, fmt.Sprintf("%s infra runs no images; the task asks for image_id %s", name, req.ImageID))
		} else if err := c.CheckImage(req.ImageID); err != nil {
			why = append(why, err.Error())
		}
	}
	return why
}

// Feasible asks a snapshot of p's offers (from p.Offers) which fit req, after refusing what p has no
// capability for with an *InfeasibleError.
func Feasible(p Cloud, offers OfferFunc, req Requirements) ([]Offer, error) {
	if why := Unsupported(p, req); len(why) > 0 {
		return nil, &InfeasibleError{Cloud: p.Name(), Reasons: why}
	}
	return offers(req)
}

// PortEndpoints tells where the ports a cluster exposes (`resources.ports`) are reached from outside it, for
// `stix status --endpoints`: "host:port", or a URL where the provider has one. ports are the cluster's exposed
// ports to describe (the core has checked them against the cluster's resources.ports); a port the provider
// cannot give an address for yet (a load balancer still pending) is left out of the map.
type PortEndpoints interface {
	Endpoints(ctx context.Context, info *ClusterInfo, ports []int) (map[int]string, error)
}

// CredentialVerifier confirms the credentials `stix check` found offline with one cheap, read-only call to the
// provider's API (`stix check -v`): nil when the API accepts them, a *AuthError when it rejects them, another
// error when it could not be asked.
type CredentialVerifier interface {
	VerifyCredentials(ctx context.Context) error
}

// HeadEndpoints is the PortEndpoints answer of infra whose ports listen on the head node's own address: its
// external IP (its internal one when it has none) with each port.
func HeadEndpoints(info *ClusterInfo, ports []int) (map[int]string, error) {
	h, ok := info.Head()
	if !ok {
		return nil, fmt.Errorf("%s cluster has no head node recorded", info.Cloud)
	}
	host := h.ExternalIP
	if host == "" {
		host = h.InternalIP
	}
	if host == "" {
		return nil, fmt.Errorf("the head node of the %s cluster has no address recorded", info.Cloud)
	}
	out := make(map[int]string, len(ports))
	for _, p := range ports {
		out[p] = net.JoinHostPort(host, strconv.Itoa(p))
	}
	return out, nil
}
