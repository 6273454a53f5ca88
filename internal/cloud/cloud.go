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

// Cloud says what a provider can offer. It does no provisioning.
type Cloud interface {
	// Name is the provider's canonical lower-case name ("local", "aws", "kubernetes"), as used in `infra:` and in
	// SKYPILOT_CLUSTER_INFO: its Descriptor's Name.
	Name() string
	// Offers measures what the provider can offer now (this machine's CPUs and GPUs, the free hosts of its node
	// pools) and returns a function that answers, from that snapshot alone, which offers fit a request. The
	// caller takes one snapshot before planning and asks it as often as planning and re-planning need. Features
	// the provider lacks (see capability.go) are refused before it is asked.
	Offers(ctx context.Context) (OfferFunc, error)
}

// OfferFunc lists the launchable offers that fit req, cheapest first, without I/O. When none fits it returns an
// error that says why, typically an *InfeasibleError ("local infra has 2 CPUs; the task asks for 4+").
type OfferFunc func(req Requirements) ([]Offer, error)

// Provisioner creates and manages clusters; stopping and starting them is the optional Stopper. Every method identifies a cluster by a ClusterRef: its name and the
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
	// Terminate deletes the nodes and everything on them. Terminating a cluster that is already gone succeeds.
	Terminate(ctx context.Context, ref ClusterRef) error
	// Transport reaches the node of the given rank of a cluster. The caller closes it.
	Transport(ctx context.Context, info *ClusterInfo, rank int) (transport.Transport, error)
}

// Provider is a Cloud that can also provision: what the Registry holds.
type Provider interface {
	Cloud
	Provisioner
}
