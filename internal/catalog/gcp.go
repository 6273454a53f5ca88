package catalog

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/stix-run/stix/internal/cloud"
)

// GCP sells most GPUs separately from the VM they attach to: its vms.csv prices them in rows without an
// instance type, and a launchable offer is a host VM plus the GPU, priced as their sum in a zone that has both.
// The rules below are SkyPilot's (sky/catalog/gcp_catalog.py, sky/clouds/gcp.py).

// gcpTPUVM is the instance type SkyPilot gives TPU VMs; the host costs nothing extra.
const gcpTPUVM = "TPU-VM"

// gcpAccHosts maps accelerators that only come on dedicated VM types to those types, per count.
var gcpAccHosts = map[string]map[float64][]string{
	"A100":      {1: {"a2-highgpu-1g"}, 2: {"a2-highgpu-2g"}, 4: {"a2-highgpu-4g"}, 8: {"a2-highgpu-8g"}, 16: {"a2-megagpu-16g"}},
	"A100-80GB": {1: {"a2-ultragpu-1g"}, 2: {"a2-ultragpu-2g"}, 4: {"a2-ultragpu-4g"}, 8: {"a2-ultragpu-8g"}},
	"L4": {1: {"g2-standard-4", "g2-standard-8", "g2-standard-12", "g2-standard-16", "g2-standard-32"},
		2: {"g2-standard-24"}, 4: {"g2-standard-48"}, 8: {"g2-standard-96"}},
	"H100":      {1: {"a3-highgpu-1g"}, 2: {"a3-highgpu-2g"}, 4: {"a3-highgpu-4g"}, 8: {"a3-highgpu-8g"}},
	"H100-MEGA": {8: {"a3-megagpu-8g"}},
	"H200":      {8: {"a3-ultragpu-8g"}},
	"B200":      {8: {"a4-highgpu-8g"}},
}

// gcpHostCPUs is the default vCPU count of the N1 host for other GPUs, per count ("DEFAULT" for the rest).
var gcpHostCPUs = map[string]map[float64]float64{
	"K80":     {1: 4, 2: 8, 4: 16, 8: 32, 16: 64},
	"V100":    {1: 8, 2: 16, 4: 32, 8: 64},
	"T4":      {1: 4, 2: 8, 4: 48},
	"P100":    {1: 8, 2: 16, 4: 32, 8: 64},
	"DEFAULT": {1: 8, 2: 16, 4: 32, 8: 64, 16: 128},
}

// gcpHostLimits caps the N1 host's vCPUs and memory (GB) per GPU type and count.
var gcpHostLimits = map[string]map[float64][2]float64{
	"K80":  {1: {8, 52}, 2: {16, 104}, 4: {32, 208}, 8: {64, 208}},
	"V100": {1: {12, 78}, 2: {24, 156}, 4: {48, 312}, 8: {96, 624}},
	"T4":   {1: {48, 312}, 2: {48, 312}, 4: {96, 624}},
	"P4":   {1: {24, 156}, 2: {48, 312}, 4: {96, 624}},
	"P100": {1: {16, 104}, 2: {32, 208}, 4: {96, 624}},
}

var gcpN1Host = prefixes("n1-standard", "n1-highmem", "n1-highcpu")

// gcpImplied maps each dedicated VM type to the accelerator it comes with (a2-highgpu-1g: A100:1). Built on first
// use, not at every command's start.
var gcpImplied = sync.OnceValue(func() map[string]struct {
	acc string
	n   float64
} {
	m := map[string]struct {
		acc string
		n   float64
	}{}
	for acc, byCount := range gcpAccHosts {
		for n, types := range byCount {
			for _, t := range types {
				m[t] = struct {
					acc string
					n   float64
				}{acc, n}
			}
		}
	}
	return m
})

// gcpImpliedAccelerator returns the accelerator a dedicated GCP VM type comes with.
func gcpImpliedAccelerator(instanceType string) (string, float64, bool) {
	v, ok := gcpImplied()[instanceType]
	return v.acc, v.n, ok
}

func validCounts(m map[float64][]string) string {
	var counts []float64
	for n := range m {
		counts = append(counts, n)
	}
	sort.Float64s(counts)
	s := make([]string, len(counts))
	for i, n := range counts {
		s[i] = fmtNum(n)
	}
	return strings.Join(s, ", ")
}

// gcpAccelerator answers an accelerator request on GCP: pick the host VM type as SkyPilot does (the cheapest
// fitting type anywhere), then offer every zone that has both the host and the accelerator.
func (c *Cloud) gcpAccelerator(q Query, loc place) ([]cand, *NoFitError) {
	accRows, nf := c.acceleratorRows(q, loc, true)
	if nf != nil {
		return nil, nf
	}
	acc := c.canonicalAcc(q.Accelerator)
	label := accLabel(acc, q.AcceleratorCount)
	if strings.HasPrefix(strings.ToLower(acc), "tpu-") {
		return c.gcpTPU(q, accRows, label)
	}
	host, nf := c.gcpHost(q, acc, label)
	if nf != nil {
		return nil, nf
	}
	out := c.gcpJoin(c.byType[host], accRows, q.UseSpot, loc)
	if len(out) == 0 {
		return nil, c.noFit(fmt.Sprintf("no GCP zone%s offers both %s and its host %s with a %s price", loc.suffix(), label, host, pricing(q.UseSpot)))
	}
	return out, nil
}

// gcpHost picks the host VM type for a GPU.
func (c *Cloud) gcpHost(q Query, acc, label string) (string, *NoFitError) {
	cpus, mem := q.CPUs, q.Memory
	var candidates []int32
	if byCount, ok := gcpAccHosts[acc]; ok {
		types := byCount[q.AcceleratorCount]
		if types == nil {
			return "", c.noFit(fmt.Sprintf("%s is not launchable on GCP; the valid %s counts are %s", label, acc, validCounts(byCount)))
		}
		for _, t := range types {
			candidates = append(candidates, c.byType[t]...)
		}
		if len(candidates) == 0 {
			return "", c.noFit(fmt.Sprintf("GCP's catalog has no %s (the VM type for %s)", strings.Join(types, " or "), label))
		}
	} else {
		if limits, ok := gcpHostLimits[acc]; ok {
			if _, ok := limits[q.AcceleratorCount]; !ok {
				var counts []float64
				for n := range limits {
					counts = append(counts, n)
				}
				sort.Float64s(counts)
				s := make([]string, len(counts))
				for i, n := range counts {
					s[i] = fmtNum(n)
				}
				return "", c.noFit(fmt.Sprintf("%s is not launchable on GCP; the valid %s counts are %s", label, acc, strings.Join(s, ", ")))
			}
		}
		if !cpus.IsSet() && !mem.IsSet() {
			table, ok := gcpHostCPUs[acc]
			if !ok {
				table = gcpHostCPUs["DEFAULT"]
			}
			n, ok := table[q.AcceleratorCount]
			if !ok {
				return "", c.noFit(fmt.Sprintf("%s is not launchable on GCP: no default host size for that count", label))
			}
			cpus = cloud.Amount{Value: n, OrMore: true}
		}
		if !mem.IsSet() {
			// At least 4 GB per requested vCPU, "to be consistent with all other clouds".
			mem = cloud.Memory{Value: math.Trunc(cpus.Value) * 4, OrMore: true}
		}
		for _, t := range c.instanceList {
			if gcpN1Host(t) {
				candidates = append(candidates, c.byType[t]...)
			}
		}
	}
	best, bestPrice := -1, math.Inf(1)
	for _, i := range candidates {
		r := &c.rows[i]
		if !shapeOK(r, cpus, mem) || math.IsNaN(r.price) {
			continue
		}
		// SkyPilot sorts by on-demand price over every region and keeps the first: ties go to file order.
		if r.price < bestPrice {
			best, bestPrice = int(i), r.price
		}
	}
	if best < 0 {
		return "", c.noFit(fmt.Sprintf("no GCP host VM for %s has %s", label, describeShape(cpus, mem)))
	}
	h := &c.rows[best]
	if lim, ok := gcpHostLimits[acc][q.AcceleratorCount]; ok && (h.cpus > lim[0] || h.mem > lim[1]) {
		return "", c.noFit(fmt.Sprintf("%s cannot be attached to %s: at most %s vCPUs and %s GB memory", label,
			h.instanceType, fmtNum(lim[0]), fmtNum(lim[1])))
	}
	return h.instanceType, nil
}

// gcpTPU offers TPU VMs: the accelerator's own rows, with SkyPilot's fixed host shape (96 vCPUs and 334 GB, or
// 240 and 400 for v4) checked against cpus and memory.
func (c *Cloud) gcpTPU(q Query, accRows []int32, label string) ([]cand, *NoFitError) {
	cpus, mem := 96.0, 334.0
	if strings.Contains(strings.ToLower(q.Accelerator), "v4") {
		cpus, mem = 240, 400
	}
	host := row{cpus: cpus, mem: mem}
	if !shapeOK(&host, q.CPUs, q.Memory) {
		return nil, c.noFit(fmt.Sprintf("a %s TPU VM has %s vCPUs and %s GB memory; the task asks for %s", label,
			fmtNum(cpus), fmtNum(mem), describeShape(q.CPUs, q.Memory)))
	}
	var out []cand
	for _, i := range accRows {
		if p := c.rows[i].priceFor(q.UseSpot); !math.IsNaN(p) {
			out = append(out, cand{host: -1, acc: i, price: p})
		}
	}
	if len(out) == 0 {
		return nil, c.noFit(fmt.Sprintf("GCP has no %s price for %s", pricing(q.UseSpot), label))
	}
	return out, nil
}

// gcpJoin pairs host rows with accelerator price rows in the same zone, both priced for the pricing asked.
func (c *Cloud) gcpJoin(hostRows, accRows []int32, spot bool, loc place) []cand {
	byZone := map[[2]string]int32{}
	for _, i := range hostRows {
		r := &c.rows[i]
		if loc.match(r) && !math.IsNaN(r.priceFor(spot)) {
			k := [2]string{r.region, r.zone}
			if j, ok := byZone[k]; !ok || r.priceFor(spot) < c.rows[j].priceFor(spot) {
				byZone[k] = i
			}
		}
	}
	var out []cand
	for _, a := range accRows {
		ar := &c.rows[a]
		ap := ar.priceFor(spot)
		if math.IsNaN(ap) {
			continue
		}
		if h, ok := byZone[[2]string{ar.region, ar.zone}]; ok {
			out = append(out, cand{host: h, acc: a, price: c.rows[h].priceFor(spot) + ap})
		}
	}
	return out
}

// gcpInstanceType answers a request naming a GCP VM type, attaching the accelerator asked (or implied by the
// type) and pricing both.
func (c *Cloud) gcpInstanceType(q Query, loc place, rows []int32) ([]cand, *NoFitError) {
	it := q.InstanceType
	first := &c.rows[rows[0]]
	if !shapeOK(first, q.CPUs, q.Memory) {
		return nil, c.noFit(fmt.Sprintf("instance type %s has %s vCPUs and %s GB memory; the task asks for %s",
			it, fmtNum(first.cpus), fmtNum(first.mem), describeShape(q.CPUs, q.Memory)))
	}
	acc, count := q.Accelerator, q.AcceleratorCount
	if implied, n, ok := gcpImpliedAccelerator(it); ok {
		if acc != "" && (!strings.EqualFold(acc, implied) || !sameCount(count, n)) {
			return nil, c.noFit(fmt.Sprintf("instance type %s comes with %s; the task asks for %s", it,
				accLabel(implied, n), accLabel(acc, count)))
		}
		acc, count = implied, n
	} else if acc != "" {
		canon := c.canonicalAcc(acc)
		if byCount, ok := gcpAccHosts[canon]; ok {
			return nil, c.noFit(fmt.Sprintf("%s GPUs cannot be attached to %s; use one of %s", canon, it,
				strings.Join(byCount[count], ", ")))
		}
		if !gcpN1Host(it) {
			return nil, c.noFit(fmt.Sprintf("%s GPUs cannot be attached to %s; use an N1 instance type", canon, it))
		}
		if lim, ok := gcpHostLimits[canon][count]; ok && (first.cpus > lim[0] || first.mem > lim[1]) {
			return nil, c.noFit(fmt.Sprintf("%s cannot be attached to %s: at most %s vCPUs and %s GB memory",
				accLabel(canon, count), it, fmtNum(lim[0]), fmtNum(lim[1])))
		}
	}
	if acc == "" {
		var out []cand
		for _, i := range rows {
			r := &c.rows[i]
			if p := r.priceFor(q.UseSpot); loc.match(r) && !math.IsNaN(p) {
				out = append(out, cand{host: i, acc: -1, price: p})
			}
		}
		if len(out) == 0 {
			return nil, c.noFit(fmt.Sprintf("GCP does not offer %s%s with a %s price", it, loc.suffix(), pricing(q.UseSpot)))
		}
		return out, nil
	}
	aq := q
	aq.Accelerator, aq.AcceleratorCount = acc, count
	accRows, nf := c.acceleratorRows(aq, loc, true)
	if nf != nil {
		return nil, nf
	}
	out := c.gcpJoin(rows, accRows, q.UseSpot, loc)
	if len(out) == 0 {
		return nil, c.noFit(fmt.Sprintf("no GCP zone%s offers both %s and %s with a %s price", loc.suffix(), it,
			accLabel(c.canonicalAcc(acc), count), pricing(q.UseSpot)))
	}
	return out, nil
}
