package cluster

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/credentials"
	"github.com/stix-run/stix/internal/spec"
	"github.com/stix-run/stix/internal/store"
)

// jobCPUDemand is what every job takes of each of its nodes' CPUs, as in SkyPilot (DEFAULT_TASK_CPU_DEMAND):
// two jobs per CPU run side by side; accelerators are reserved as the task asks.
const jobCPUDemand = 0.5

// accelerator returns the one accelerator option of a concrete candidate, or nil.
func accelerator(r *spec.Resources) *spec.Accelerator {
	if r == nil || r.Accelerators == nil || len(r.Accelerators.Options) == 0 {
		return nil
	}
	return &r.Accelerators.Options[0]
}

// jobDemand is what a job of the task takes of each node it runs on.
func jobDemand(t *spec.Task) agent.Demand {
	d := agent.Demand{CPUs: jobCPUDemand}
	if acc := accelerator(firstCandidate(t)); acc != nil && acc.Name != "" {
		d.Accelerators = map[string]float64{acc.Name: acc.Count}
	}
	return d
}

// demandString renders a job's demand as SkyPilot's queue does: "1x[CPU:0.5]", "2x[A100:1]".
func demandString(nodes int, d agent.Demand) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(d.Accelerators)) {
		parts = append(parts, name+":"+num(d.Accelerators[name]))
	}
	if len(parts) == 0 {
		parts = append(parts, "CPU:"+num(d.CPUs))
	}
	return fmt.Sprintf("%dx[%s]", max(nodes, 1), strings.Join(parts, ", "))
}

// firstCandidate is the task's first concrete resources candidate (its only one, for most tasks).
func firstCandidate(t *spec.Task) *spec.Resources {
	cands, _ := t.Resources.Candidates()
	if len(cands) == 0 {
		return &spec.Resources{}
	}
	return cands[0]
}

// storeResources records what each node of a launched cluster has, as offered.
func storeResources(offer cloud.Offer, disk int) store.Resources {
	return store.Resources{
		InstanceType: offer.InstanceType,
		CPUs:         offer.CPUs,
		MemoryGB:     offer.MemoryGB,
		Accelerators: maps.Clone(offer.Accelerators),
		UseSpot:      offer.Spot,
		DiskSizeGB:   disk,
	}
}

// resourcesString renders a cluster's resources as SkyPilot's status does: "2x(cpus=4, mem=16, A100:1)".
// Nodes of free infra (local, docker, ssh) are machines stix measured: their made-up instance type says
// nothing the cpus and mem do not.
func resourcesString(cloudName string, nodes int, r store.Resources) string {
	var parts []string
	if r.InstanceType != "" && credentials.KindOf(cloudName) == credentials.Priced {
		parts = append(parts, r.InstanceType)
	}
	for _, name := range slices.Sorted(maps.Keys(r.Accelerators)) {
		parts = append(parts, "gpus="+name+":"+num(r.Accelerators[name]))
	}
	parts = append(parts, "cpus="+num(r.CPUs), "mem="+num(roundTo(r.MemoryGB, 1)))
	if r.UseSpot {
		parts = append(parts, "spot")
	}
	return fmt.Sprintf("%dx(%s)", max(nodes, 1), strings.Join(parts, ", "))
}

// fits says why a task's candidate cannot run on a cluster whose nodes have r, or "" when it can.
func fits(t *spec.Task, rec *store.Cluster) string {
	if t.NumNodes > rec.NumNodes {
		return fmt.Sprintf("the task needs %d nodes and cluster %q has %d", t.NumNodes, rec.Name, rec.NumNodes)
	}
	cands, _ := t.Resources.Candidates()
	var why []string
	for _, c := range cands {
		reason := candidateFits(c, rec)
		if reason == "" {
			return ""
		}
		why = append(why, reason)
	}
	if len(why) == 0 {
		return ""
	}
	return why[0]
}

func candidateFits(c *spec.Resources, rec *store.Cluster) string {
	r := rec.Resources
	if c.Infra.Cloud != "" && !strings.EqualFold(c.Infra.Cloud, rec.Cloud) {
		return fmt.Sprintf("the task asks for infra %s and cluster %q runs on %s", c.Infra, rec.Name, rec.Cloud)
	}
	// An existing cluster serves any task that asks for no more than its nodes have, "4" as much as "4+".
	if c.CPUs != nil && r.CPUs < c.CPUs.Value {
		return fmt.Sprintf("the task asks for %s CPUs and the nodes of cluster %q have %s", c.CPUs, rec.Name, num(r.CPUs))
	}
	if c.Memory != nil && !c.Memory.PerCPU && r.MemoryGB < c.Memory.Value {
		return fmt.Sprintf("the task asks for %s GB of memory and the nodes of cluster %q have %s", c.Memory, rec.Name, num(roundTo(r.MemoryGB, 1)))
	}
	if acc := accelerator(c); acc != nil && acc.Name != "" {
		have := 0.0
		for name, n := range r.Accelerators {
			if strings.EqualFold(name, acc.Name) {
				have = n
			}
		}
		if have < acc.Count {
			return fmt.Sprintf("the task asks for %s and the nodes of cluster %q have %s", acc, rec.Name, acceleratorsString(r.Accelerators))
		}
	}
	return ""
}

func acceleratorsString(m map[string]float64) string {
	if len(m) == 0 {
		return "no accelerators"
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, name+":"+num(m[name]))
	}
	return strings.Join(parts, ", ")
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func roundTo(f float64, digits int) float64 {
	p, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', digits, 64), 64)
	return p
}
