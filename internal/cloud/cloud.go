// Package cloud is the contract between stix's core and the infrastructure it runs on. A provider (local,
// docker, ssh, kubernetes, slurm, aws, gcp, ...) answers what it can offer (Cloud) and creates, queries and
// tears down clusters of nodes that run the stix agent (Provisioner). The failover loop decides what to try next
// from the typed errors of this package alone (see Scope), and providers are listed explicitly in a Registry.
//
// Each provider lives in its own subpackage; code shared by providers that start agents on nodes lives in
// package nodeagent. docs/providers.md explains how to add one.
package cloud

import (
	"context"

	"github.com/stix-run/stix/internal/transport"
)

// Cloud says what a provider can offer: whether it can be used at all, and which concrete resources fit a
// request, at what price. It does no provisioning.
type Cloud interface {
	// Name is the provider's canonical lower-case name ("local", "aws", "kubernetes"), as used in `infra:` and in
	// SKYPILOT_CLUSTER_INFO.
	Name() string
	// CheckCredentials reports whether the provider is usable from here; when not, reason tells the user what
	// to fix ("stix-agent not found: run make install", "no AWS credentials: run aws configure").
	CheckCredentials(ctx context.Context) (ok bool, reason string)
	// Feasible lists the launchable resources that fit req, cheapest first. When none fits it returns an error
	// that says why, typically an *InfeasibleError ("local infra has 2 CPUs; the task asks for 4+").
	Feasible(ctx context.Context, req Requirements) ([]Offer, error)
}

// Provisioner creates and manages clusters. Every method identifies a cluster by a ClusterRef: its name and the
// Handle the provider returned in ClusterInfo, which the caller persists. Errors that concern the
// infrastructure (no capacity, quota, credentials, preemption) are the typed errors of this package, wrapped as
// the provider likes.
type Provisioner interface {
	// Provision creates the cluster, or resumes it when it exists (stopped or partly running), and returns once
	// every node's agent answers its health check.
	Provision(ctx context.Context, req ProvisionRequest) (*ClusterInfo, error)
	// Query returns the provider's own view of each node, in rank order: what `stix status -r` trusts. A
	// cluster the provider does not know at all gives an empty slice and no error.
	Query(ctx context.Context, ref ClusterRef) ([]NodeState, error)
	// Stop stops the nodes and the agents and jobs on them, keeping their disks; Start brings them back.
	// A provider that cannot stop returns an *UnsupportedError.
	Stop(ctx context.Context, ref ClusterRef) error
	// Start restarts a stopped cluster on the same nodes and waits for its agents, like Provision.
	Start(ctx context.Context, ref ClusterRef) (*ClusterInfo, error)
	// Terminate deletes the nodes and everything on them. Terminating a cluster that is already gone succeeds.
	Terminate(ctx context.Context, ref ClusterRef) error
	// ClusterInfo describes an existing cluster without changing it; a cluster that is gone gives a
	// *NotFoundError.
	ClusterInfo(ctx context.Context, ref ClusterRef) (*ClusterInfo, error)
	// Transport reaches the node of the given rank of a cluster. The caller closes it.
	Transport(ctx context.Context, info *ClusterInfo, rank int) (transport.Transport, error)
}

// Provider is a Cloud that can also provision: what the Registry holds.
type Provider interface {
	Cloud
	Provisioner
}
