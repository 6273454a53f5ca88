package vm

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
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

// Locate returns the cluster's resource ids (rank order) and its state: the ids of the state (stateIDs) when stix
// keeps one, else those of the cluster's Handle (handleIDs), none when it has no Handle or one that is not JSON.
func Locate[S, H, K any](m *Machines, ref cloud.ClusterRef, stateIDs func(*S) []K,
	handleIDs func(*H) []K) (ids []K, s *S, err error) {
	if s, err = Load[S](m, ref.Name); err != nil || s != nil {
		if s != nil {
			ids = stateIDs(s)
		}
		return ids, s, err
	}
	var h H
	if len(ref.Handle) > 0 && json.Unmarshal(ref.Handle, &h) == nil {
		ids = handleIDs(&h)
	}
	return ids, nil, nil
}

// InOrder returns the items of all in the order of ids (id says an item's); one all lacks is the zero T.
func InOrder[T any, K comparable](all []T, ids []K, id func(T) K) []T {
	out, _ := inOrder(all, ids, id)
	return out
}

func inOrder[T any, K comparable](all []T, ids []K, id func(T) K) (out []T, found []bool) {
	out, found = make([]T, len(ids)), make([]bool, len(ids))
	for _, it := range all {
		if i := slices.Index(ids, id(it)); i >= 0 {
			out[i], found[i] = it, true
		}
	}
	return out, found
}

// Mine lists a cluster's items: those of ids, in their order (gone(id) for one all lacks), then the others of
// all that ours says are the cluster's.
func Mine[T any, K comparable](all []T, ids []K, id func(T) K, gone func(K) T, ours func(T) bool) []T {
	out, found := inOrder(all, ids, id)
	for i := range out {
		if !found[i] {
			out[i] = gone(ids[i])
		}
	}
	for _, it := range all {
		if !slices.Contains(ids, id(it)) && ours(it) {
			out = append(out, it)
		}
	}
	return out
}

// Finish deploys the agents on the cluster's hosts, records the nodes they report in its state s (whose Cluster
// is c) and returns its ClusterInfo (see Info) in place's region and zone.
func (m *Machines) Finish(ctx context.Context, place cloud.Place, name string, hosts []Host, s any, c *Cluster,
	report func(string), handle any) (*cloud.ClusterInfo, error) {
	nodes, err := m.Deploy(ctx, place, name, hosts, c, report)
	if err != nil {
		return nil, err
	}
	c.Nodes = nodes
	if err := m.WriteState(name, s); err != nil {
		return nil, err
	}
	return m.Info(name, place.Region, place.Zone, c, handle)
}
