package optimizer

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/spec"
)

// AcceleratorsByMemory resolves an accelerator asked for by device memory ("80GB+", "nvidia:24GB") to the names
// that have it; *catalog.Catalog implements it.
type AcceleratorsByMemory interface {
	AcceleratorsWithMemory(gib float64, orMore bool, manufacturer string) []string
}

// FromPipeline converts a loaded task file's tasks, in order (a pipeline: Problem.Edges stays nil).
func FromPipeline(p *spec.Pipeline, byMemory AcceleratorsByMemory) []Task {
	out := make([]Task, len(p.Tasks))
	for i, t := range p.Tasks {
		out[i] = FromSpec(t, byMemory)
	}
	return out
}

// FromSpec converts a task's resources into the optimizer's alternatives: spec.Resources.Candidates expanded,
// accelerators by memory resolved through byMemory (nil resolves none), per-region image_ids turned into a
// region restriction, and inputs/outputs sizes kept for egress. It never fails: what cannot be satisfied is an
// Alternative with Unmet set, which the explanation reports.
func FromSpec(t *spec.Task, byMemory AcceleratorsByMemory) Task {
	out := Task{Name: t.Name, Nodes: t.NumNodes}
	if t.Inputs != nil {
		out.InputsGB, out.InputsCloud = t.Inputs.SizeGB, StorageCloud(t.Inputs.Path)
	}
	if t.Outputs != nil {
		out.OutputsGB = t.Outputs.SizeGB
	}
	res := t.Resources
	if res == nil {
		res = &spec.Resources{}
	}
	cands, ordered := res.Candidates()
	out.Ordered = ordered
	for ci, r := range cands {
		for _, alt := range alternatives(r, out.Nodes, byMemory) {
			alt.Candidate = ci
			out.Alternatives = append(out.Alternatives, alt)
		}
	}
	return out
}

// alternatives converts one concrete candidate; an accelerator asked for by memory becomes one alternative per
// matching accelerator.
func alternatives(r *spec.Resources, nodes int, byMemory AcceleratorsByMemory) []Alternative {
	base := Alternative{Cloud: r.Infra.Cloud}
	req := cloud.Requirements{
		InstanceType: r.InstanceType,
		UseSpot:      r.Spot(),
		Region:       r.Infra.Region,
		Zone:         r.Infra.Zone,
		DiskSizeGB:   r.DiskSize(),
		DiskTier:     r.DiskTier,
		Labels:       r.Labels,
		NumNodes:     nodes,
	}
	if r.Infra.Context != "" {
		// Kubernetes contexts, SSH node pools and Slurm clusters take the place of a region, as in SkyPilot.
		req.Region = r.Infra.Context
	}
	if r.CPUs != nil {
		req.CPUs = cloud.Amount{Value: r.CPUs.Value, OrMore: r.CPUs.OrMore}
	}
	if r.Memory != nil {
		req.Memory = cloud.Memory{Value: r.Memory.Value, OrMore: r.Memory.OrMore, PerCPU: r.Memory.PerCPU}
	}
	for _, p := range r.Ports {
		req.Ports = append(req.Ports, p.String())
	}
	if r.ImageID != nil {
		req.ImageID = r.ImageID.ID
		if len(r.ImageID.ByRegion) > 0 {
			for region := range r.ImageID.ByRegion {
				base.Regions = append(base.Regions, region)
			}
			sort.Strings(base.Regions)
			if id, ok := r.ImageID.ByRegion[req.Region]; ok {
				req.ImageID = id
			}
		}
	}
	base.Req = req
	if r.Accelerators == nil || len(r.Accelerators.Options) == 0 {
		return []Alternative{base}
	}
	a := r.Accelerators.Options[0]
	if a.Memory == nil {
		base.Req.Accelerators = map[string]float64{a.Name: a.Count}
		return []Alternative{base}
	}
	var names []string
	if byMemory != nil {
		names = byMemory.AcceleratorsWithMemory(a.Memory.Value, a.Memory.OrMore, a.Manufacturer)
	}
	if len(names) == 0 {
		want := strconv.FormatFloat(a.Memory.Value, 'f', -1, 64) + " GB"
		if a.Memory.OrMore {
			want = "at least " + want
		}
		if a.Manufacturer != "" {
			want += " from " + a.Manufacturer
		}
		base.Unmet = fmt.Sprintf("no accelerator in the catalog has %s of memory", want)
		return []Alternative{base}
	}
	out := make([]Alternative, len(names))
	for i, n := range names {
		alt := base
		alt.Req.Accelerators = map[string]float64{n: a.Count}
		out[i] = alt
	}
	return out
}

// StorageCloud names the cloud a data path lives on, for egress: s3:// is AWS, gs:// GCP, Azure blob URLs Azure.
// Other paths give "" (no egress estimate), where SkyPilot would refuse the task.
func StorageCloud(path string) string {
	p := strings.ToLower(strings.TrimSpace(path))
	switch {
	case strings.HasPrefix(p, "s3://"):
		return "aws"
	case strings.HasPrefix(p, "gs://"):
		return "gcp"
	case strings.HasPrefix(p, "az://"), strings.HasPrefix(p, "https://") && strings.Contains(p, ".blob.core.windows.net"):
		return "azure"
	}
	return ""
}
