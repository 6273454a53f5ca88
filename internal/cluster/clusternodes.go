package cluster

import (
	"context"
	"maps"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cloud/credentials"
)

// Nodes lists a cluster's nodes in rank order as its record holds them: the addresses and measured resources
// its launch (or last start) recorded, the place, the instance type on infra that has them, and the cluster's
// recorded state (stix keeps one state for all of a cluster's nodes). No provider is asked. A cluster whose
// launch has not recorded its nodes yet has none.
func (m *Manager) Nodes(ctx context.Context, name string) ([]api.ClusterNode, error) {
	rec, err := m.record(ctx, name)
	if err != nil {
		return nil, err
	}
	out := []api.ClusterNode{}
	if len(rec.Handle) == 0 {
		return out, nil
	}
	ci, err := info(rec)
	if err != nil {
		return nil, err
	}
	region, zone := ci.Region, ci.Zone
	if region == "" {
		region, zone = rec.Region, rec.Zone
	}
	instanceType := ""
	if credentials.KindOf(rec.Cloud) == credentials.Priced {
		instanceType = rec.Resources.InstanceType
	}
	for _, n := range ci.Nodes {
		role := "worker"
		if n.Rank == 0 {
			role = "head"
		}
		out = append(out, api.ClusterNode{
			Rank: n.Rank, Role: role, InternalIP: n.InternalIP, ExternalIP: n.ExternalIP,
			Status: api.ClusterStatus(rec.Status), Cloud: rec.Cloud, Region: region, Zone: zone,
			InstanceType: instanceType, Spot: rec.Resources.UseSpot,
			CPUs: n.Resources.CPUs, MemoryGB: n.Resources.MemoryGB, Accelerators: maps.Clone(n.Resources.Accelerators),
		})
	}
	return out, nil
}
