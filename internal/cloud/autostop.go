package cloud

import (
	"context"
	"strings"
)

// SelfStopper is the capability of a provider whose clusters carry out autostop and autodown themselves, with
// nothing of the client's on the nodes: when the cluster has been idle long enough, the head agent asks every
// node's agent to end its jobs, leave its autostop mark (agent.AutostopMarkFile) and end as SelfStopExit says
// (docs/autostop.md).
// Query then reports those nodes stopped, and `stix start` (Start) brings them back. What nodes cannot do
// themselves (remove a container, release a host) the client finishes when it next looks at the cluster
// (`status -r`): it calls Terminate for a cluster whose head left the mark "down".
//
// A provider without it cannot autostop: `-i` and `--down` are refused for its clusters.
type SelfStopper interface {
	// SelfStopExit is how a node's agent ends once autostop has ended its jobs.
	SelfStopExit() NodeExit
	// SelfStopped reads the mark the head agent of a cluster left when it stopped itself: SelfStopNone when
	// there is none (it runs, or something else stopped it).
	SelfStopped(ctx context.Context, info *ClusterInfo) (SelfStopMark, error)
}

// NodeExit is how a node's agent ends for autostop; the values are the agent's (agent.NodeExit), which package
// cloud does not import: the optimizer and the planners use this package and must stay free of the agent.
type NodeExit string

// How nodes end.
const (
	ExitAgent     NodeExit = "agent"     // the agent exits; the node (a host, a directory) stays
	ExitContainer NodeExit = "container" // the agent exits and ends its container (the container stops)
	ExitPoweroff  NodeExit = "poweroff"  // the agent exits and powers its VM off; the cloud stops or terminates it
	ExitRequest   NodeExit = "request"   // the head sends the provider's SelfStopRequests, then the agents exit
)

// SelfStopRequester is the capability of a provider whose nodes cannot end their own billing (Lambda, RunPod,
// Paperspace, DigitalOcean, Azure: nothing a VM or a pod does to itself ends it) and whose SelfStopExit is ExitRequest:
// the client asks it, each time the cluster's autostop is set, for the HTTP requests that end the cluster
// through the cloud's API, with the user's API key (on Azure, with a token the head gets for the cluster's
// managed identity: HTTPRequest.TokenURL): terminate it for autodown (down), stop it for a plain
// autostop (asked only of a provider that is also a cloud.Stopper; Lambda and RunPod offer autodown only). The
// head keeps them and sends them once autostop has ended the jobs (docs/autostop.md).
type SelfStopRequester interface {
	SelfStopRequests(ctx context.Context, ref ClusterRef, down bool) ([]HTTPRequest, error)
}

// HTTPRequest is a request the head sends for ExitRequest (agent.HTTPRequest). Header carries secrets: never
// log it, nor Body.
type HTTPRequest struct {
	Method string
	URL    string
	Header map[string]string
	Body   string
	// TokenURL, when set, is where the head first gets the bearer token it sends as Authorization: a GET with
	// the header "Metadata: true" answered with {"access_token": ...}, as Azure's instance metadata service
	// answers for a managed identity of the VM. Nothing secret then travels with the request.
	TokenURL string
	// RootCAs, when set, are PEM certificates the head trusts for this request besides the system's (a cloud
	// endpoint the client reaches through an override, with a private CA).
	RootCAs string
}

// SelfStopPreparer is the capability of a provider whose nodes end by powering off (ExitPoweroff): the head has
// no cloud credentials, so what a guest power-off does is set on the cloud beforehand, by the client, each time
// the cluster's autostop is set: stop the VMs, or terminate them for autodown (AWS: the instances'
// InstanceInitiatedShutdownBehavior). The provider remembers it for SelfStopped.
type SelfStopPreparer interface {
	PrepareSelfStop(ctx context.Context, ref ClusterRef, down bool) error
}

// SelfStopMark is what a node's autostop mark says.
type SelfStopMark string

// The autostop marks.
const (
	SelfStopNone SelfStopMark = ""
	SelfStopStop SelfStopMark = "stop" // autostop: the nodes are stopped and can be started again
	SelfStopDown SelfStopMark = "down" // autodown: the client tears the cluster down when it sees it
)

// ParseSelfStopMark reads the content of a mark file ("" when there is none).
func ParseSelfStopMark(content string) SelfStopMark {
	switch m := SelfStopMark(strings.TrimSpace(content)); m {
	case SelfStopStop, SelfStopDown:
		return m
	case SelfStopNone:
		return SelfStopNone
	}
	// An unknown word from a newer agent still says the node stopped itself; treat it as a plain stop, never
	// as a reason to delete anything.
	return SelfStopStop
}

// RecordedMark is SelfStopped's answer on a provider that records at PrepareSelfStop whether autostop is an
// autodown: nothing while the head runs (stopped false), else "down" or "stop" as recorded.
func RecordedMark(stopped, autodown bool) SelfStopMark {
	switch {
	case !stopped:
		return SelfStopNone
	case autodown:
		return SelfStopDown
	}
	return SelfStopStop
}

// SpotAutostopError refuses a plain autostop of a spot cluster on cloudName, where a preempted spot VM ends as
// an autostopped one would (why says how), so that stix could not tell the two apart: autodown only.
func SpotAutostopError(cloudName, why string) error {
	hint := "use autodown (-i N --down)"
	if why != "" {
		hint += ": " + why
	}
	return &UnsupportedError{Cloud: cloudName, Operation: "autostop of a spot cluster", Hint: hint}
}
