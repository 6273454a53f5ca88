package cluster

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/optimizer"
	"github.com/stix-run/stix/internal/provision"
	"github.com/stix-run/stix/internal/spec"
	"github.com/stix-run/stix/internal/store"
)

// jobCPUDemand is what every job takes of each of its nodes' CPUs, as in SkyPilot (DEFAULT_TASK_CPU_DEMAND):
// two jobs per CPU run side by side; accelerators are reserved as the task asks.
const jobCPUDemand = 0.5

// assign turns the optimizer's choice for task t into the cluster's assignment: the offer, the task's candidate
// it answers, what each node is asked for, and what a job of the task takes of each node.
func assign(t optimizer.Task, a optimizer.Assignment) provision.Assignment {
	alt := t.Alternatives[a.Alternative]
	req := alt.Req
	req.Accelerators = maps.Clone(req.Accelerators)
	req.NumNodes = a.Nodes
	return provision.Assignment{
		Offer: a.Offer, Candidate: alt.Candidate, Requirements: req,
		Demand: demand(req.Accelerators, a.Offer.Accelerators),
	}
}

// demand is what a job asking for accelerators want takes of each node that has accelerators have: half a CPU and
// the accelerators, named as the node names them (the agent matches names regardless of case; the queue shows
// the node's).
func demand(want, have map[string]float64) provision.Demand {
	d := provision.Demand{CPUs: jobCPUDemand}
	for name, n := range want {
		if d.Accelerators == nil {
			d.Accelerators = map[string]float64{}
		}
		if hname, _, ok := lookupFold(have, name); ok {
			name = hname
		}
		d.Accelerators[name] = n
	}
	return d
}

// lookupFold finds name in m regardless of case.
func lookupFold(m map[string]float64, name string) (string, float64, bool) {
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return k, v, true
		}
	}
	return "", 0, false
}

// nodeOffer is what each node of a cluster is: the offer of the assignment it was launched with. A cluster
// recorded before stix kept assignments (or with one it cannot read) is described by its record's columns.
func nodeOffer(rec *store.Cluster) cloud.Offer {
	var a provision.Assignment
	if len(rec.Assignment) > 0 && json.Unmarshal(rec.Assignment, &a) == nil && a.Offer.Cloud != "" {
		return a.Offer
	}
	r := rec.Resources
	return cloud.Offer{
		Cloud: rec.Cloud, Region: rec.Region, Zone: rec.Zone, InstanceType: r.InstanceType, Spot: r.UseSpot,
		Resources:   cloud.Resources{CPUs: r.CPUs, MemoryGB: r.MemoryGB, Accelerators: r.Accelerators},
		HourlyPrice: rec.HourlyPrice,
	}
}

// pick chooses the task's resources candidate that the existing cluster rec serves — the first, in the task's
// order, whose requirements its nodes meet — and returns what a job of it takes of each node. It reads only the
// record: no catalog, no planning. When no candidate fits, the error says what the cluster's nodes have and
// what the task asks for.
func pick(t *spec.Task, rec *store.Cluster) (provision.Demand, error) {
	if t.NumNodes > rec.NumNodes {
		return provision.Demand{}, fmt.Errorf("the task needs %d nodes and cluster %q has %d", t.NumNodes, rec.Name, rec.NumNodes)
	}
	node := nodeOffer(rec)
	cands, _ := t.Resources.Candidates()
	var miss shortfall
	for _, c := range cands {
		want, short := candidateFits(c, node)
		if short == nil {
			return demand(want, node.Accelerators), nil
		}
		miss = *short
	}
	if len(cands) == 1 {
		return provision.Demand{}, fmt.Errorf("the task asks for %s and the nodes of cluster %q %s", miss.asks, rec.Name, miss.node)
	}
	asks := make([]string, len(cands))
	for i, c := range cands {
		asks[i] = candidateString(c)
	}
	return provision.Demand{}, fmt.Errorf("cluster %q has %s on %s, and the task asks for one of: %s",
		rec.Name, resourcesString(node.Cloud, rec.NumNodes, storeResources(node, 0)), placeString(node), strings.Join(asks, "; "))
}

// shortfall is what a candidate asks for that a node lacks: "A100:1", and what the node is instead: "have H100:1".
type shortfall struct{ asks, node string }

// candidateFits checks one concrete candidate against a node. It returns the accelerators a job of it takes of
// the node, or, when the node does not serve it, the shortfall.
func candidateFits(c *spec.Resources, node cloud.Offer) (map[string]float64, *shortfall) {
	region := c.Infra.Region
	if c.Infra.Context != "" {
		region = c.Infra.Context
	}
	switch {
	case c.Infra.Cloud != "" && !strings.EqualFold(c.Infra.Cloud, node.Cloud),
		region != "" && !strings.EqualFold(region, node.Region),
		c.Infra.Zone != "" && !strings.EqualFold(c.Infra.Zone, node.Zone):
		return nil, &shortfall{"infra " + c.Infra.String(), "run on " + placeString(node)}
	case c.InstanceType != "" && c.InstanceType != node.InstanceType:
		return nil, &shortfall{"instance type " + c.InstanceType, "are " + node.InstanceType}
	case c.Spot() && !node.Spot:
		return nil, &shortfall{"spot instances", "are on-demand"}
	// An existing cluster serves any task that asks for no more than its nodes have, "4" as much as "4+".
	case c.CPUs != nil && node.CPUs < c.CPUs.Value:
		return nil, &shortfall{c.CPUs.String() + " CPUs", "have " + num(node.CPUs)}
	case c.Memory != nil && !c.Memory.PerCPU && node.MemoryGB < c.Memory.Value:
		return nil, &shortfall{c.Memory.String() + " GB of memory", "have " + num(roundTo(node.MemoryGB, 1))}
	}
	acc := accelerator(c)
	if acc == nil {
		return nil, nil
	}
	if acc.Name != "" {
		if _, have, _ := lookupFold(node.Accelerators, acc.Name); have >= acc.Count {
			return map[string]float64{acc.Name: acc.Count}, nil
		}
	} else {
		// Asked for by memory ("80GB+"): the catalog, which knows each accelerator's memory, is not loaded to
		// run a job, so any accelerator the nodes have enough of serves.
		for _, name := range slices.Sorted(maps.Keys(node.Accelerators)) {
			if node.Accelerators[name] >= acc.Count {
				return map[string]float64{name: acc.Count}, nil
			}
		}
	}
	return nil, &shortfall{acc.String(), "have " + acceleratorsString(node.Accelerators)}
}

func placeString(o cloud.Offer) string {
	parts := []string{o.Cloud}
	for _, p := range []string{o.Region, o.Zone} {
		if p != "" && !strings.EqualFold(p, o.Cloud) {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/")
}

// candidateString renders what one candidate asks of a node: "infra=aws, cpus=4+, A100:1, spot"; "any node"
// when nothing.
func candidateString(c *spec.Resources) string {
	var parts []string
	if !c.Infra.IsZero() {
		parts = append(parts, "infra="+c.Infra.String())
	}
	if c.InstanceType != "" {
		parts = append(parts, c.InstanceType)
	}
	if c.CPUs != nil {
		parts = append(parts, "cpus="+c.CPUs.String())
	}
	if c.Memory != nil {
		parts = append(parts, "mem="+c.Memory.String())
	}
	if acc := accelerator(c); acc != nil {
		parts = append(parts, acc.String())
	}
	if c.Spot() {
		parts = append(parts, "spot")
	}
	if len(parts) == 0 {
		return "any node"
	}
	return strings.Join(parts, ", ")
}

// withDemand sets what the job takes of each of its nodes.
func withDemand(job agent.JobSpec, d provision.Demand) agent.JobSpec {
	job.DemandPerNode = agent.Demand(d)
	job.ResourcesStr = demandString(job.NumNodes, job.DemandPerNode)
	return job
}
