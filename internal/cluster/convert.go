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

// accelerator returns the one accelerator option of a concrete candidate, or nil.
func accelerator(r *spec.Resources) *spec.Accelerator {
	if r == nil || r.Accelerators == nil || len(r.Accelerators.Options) == 0 {
		return nil
	}
	return &r.Accelerators.Options[0]
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
	return fmt.Sprintf("%dx[%s]", nodes, strings.Join(parts, ", "))
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
	return fmt.Sprintf("%dx(%s)", nodes, strings.Join(parts, ", "))
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
