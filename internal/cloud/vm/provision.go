package vm

import (
	"context"
	"fmt"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
)

// Load returns the cluster's state (the file WriteState wrote), nil when stix keeps none.
func Load[S any](m *Machines, name string) (*S, error) {
	var s S
	if ok, err := m.ReadState(name, &s); !ok || err != nil {
		return nil, err
	}
	return &s, nil
}

// Known returns the cluster's state, an error (NoRecord) when stix keeps none.
func Known[S any](m *Machines, name string) (*S, error) {
	s, err := Load[S](m, name)
	if err == nil && s == nil {
		return nil, m.NoRecord(name)
	}
	return s, err
}

// NoRecord is the error about a cluster that stix keeps no state of.
func (m *Machines) NoRecord(name string) error {
	return &cloud.NotFoundError{Place: cloud.Place{Cloud: m.Cloud}, Cluster: name, Reason: "stix has no record of it"}
}

// Provision is what every VM cloud's Provision does around its own work: it refuses a cluster name that cannot
// name files and cloud resources, and an offer of another cloud; a cluster whose state stix keeps is brought up
// again by again, once its node count (nodes) is the request's; else launch makes a new one, its error said to be
// of provisioning the cluster.
func Provision[S any](ctx context.Context, m *Machines, req cloud.ProvisionRequest, nodes func(*S) int,
	again func(context.Context, *S) (*cloud.ClusterInfo, error), launch func(context.Context) (*cloud.ClusterInfo, error)) (*cloud.ClusterInfo, error) {
	name := req.Cluster.Name
	if err := m.CheckName(name); err != nil {
		return nil, err
	}
	if req.Offer.Cloud != "" && !strings.EqualFold(req.Offer.Cloud, m.Cloud) {
		return nil, fmt.Errorf("provision %s cluster %s: the offer is for %s", m.Cloud, name, req.Offer.Cloud)
	}
	s, err := Load[S](m, name)
	if err != nil {
		return nil, err
	}
	if s != nil {
		if have, n := nodes(s), req.Requirements.Nodes(); have != n {
			return nil, fmt.Errorf("%s cluster %s exists with %d nodes and the request asks for %d: run `stix down %s` first", m.Cloud, name, have, n, name)
		}
		return again(ctx, s)
	}
	info, err := launch(ctx)
	if err != nil {
		return nil, fmt.Errorf("provision %s cluster %s: %w", m.Cloud, name, err)
	}
	return info, nil
}
