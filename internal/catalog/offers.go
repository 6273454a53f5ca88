package catalog

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
)

// Feasible lists the launchable offers fitting req, cheapest first: the optimizer's view of this cloud. Offers
// are at SkyPilot's launch granularity: one per region for on-demand instances (prices do not differ between a
// region's zones), one per zone for spot instances and for GCP, which prices and reserves by zone. Errors are a
// *NoFitError (nothing fits; unwraps to *cloud.InfeasibleError) or a *LocationError.
func (c *Cloud) Feasible(req cloud.Requirements) ([]cloud.Offer, error) {
	q := Query{
		CPUs: req.CPUs, Memory: req.Memory, InstanceType: req.InstanceType, UseSpot: req.UseSpot,
		Region: req.Region, Zone: req.Zone,
	}
	switch len(req.Accelerators) {
	case 0:
	case 1:
		for name, n := range req.Accelerators {
			q.Accelerator, q.AcceleratorCount = name, n
		}
	default:
		return nil, fmt.Errorf("a node may ask for one accelerator type, found %d", len(req.Accelerators))
	}
	if n := req.Nodes(); n > 1 && c.traits.noMultiNode {
		return nil, c.noFit(fmt.Sprintf("%s does not support multi-node clusters; the task asks for %d nodes", c.traits.display, n))
	}
	cands, err := c.fit(q)
	if err != nil {
		return nil, err
	}
	return c.offers(cands, req.UseSpot), nil
}

// offers groups candidates at launch granularity, keeping each group's cheapest (ties by compareCand), and
// sorts the groups: grouping first keeps the sort small on a full-size catalog.
func (c *Cloud) offers(cands []cand, spot bool) []cloud.Offer {
	perZone := c.zones && (spot || c.traits.zonalOnDemand)
	at := make(map[[3]int32]int, 64)
	var best []cand
	for _, cd := range cands {
		r := c.placeRow(cd)
		k := [3]int32{r.typeID, r.regionID, -1}
		if perZone {
			k[2] = r.zoneID
		}
		if i, ok := at[k]; !ok {
			at[k] = len(best)
			best = append(best, cd)
		} else if c.compareCand(cd, best[i]) < 0 {
			best[i] = cd
		}
	}
	slices.SortFunc(best, c.compareCand)
	out := make([]cloud.Offer, len(best))
	for i, cd := range best {
		in := c.instance(cd, spot)
		o := cloud.Offer{
			Cloud: c.name, Region: in.Region, InstanceType: in.InstanceType, Spot: spot, HourlyPrice: in.Price,
			Resources: cloud.Resources{CPUs: in.VCPUs, MemoryGB: in.MemoryGiB},
		}
		if perZone {
			o.Zone = in.Zone
		}
		if in.AcceleratorName != "" {
			o.Accelerators = map[string]float64{in.AcceleratorName: in.AcceleratorCount}
		}
		out[i] = o
	}
	return out
}

// AcceleratorInfo describes an accelerator as the loaded catalogs know it.
type AcceleratorInfo struct {
	Name         string
	Manufacturer string  // "NVIDIA", when a GpuInfo says
	MemoryGiB    float64 // per device, rounded: the value most clouds' GpuInfo agree on; 0 when none says
	Clouds       []string
}

// Accelerators lists every accelerator offered by a loaded cloud, sorted by name.
func (cat *Catalog) Accelerators() []AcceleratorInfo {
	byName := map[string]*AcceleratorInfo{}
	votes := map[string]map[float64]int{} // each cloud votes for its device memory (GiB, rounded)
	for _, c := range cat.Clouds() {
		for l, name := range c.accNames {
			ai, ok := byName[l]
			if !ok {
				ai = &AcceleratorInfo{Name: name}
				byName[l] = ai
				votes[l] = map[float64]int{}
			}
			ai.Clouds = append(ai.Clouds, c.name)
			if m := c.accMemory[l]; m > 0 {
				votes[l][math.Round(m)]++
			}
			if mk := c.accMaker[l]; mk != "" {
				ai.Manufacturer = mk
			}
		}
	}
	out := make([]AcceleratorInfo, 0, len(byName))
	for l, ai := range byName {
		ai.MemoryGiB = mode(votes[l])
		out = append(out, *ai)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// AcceleratorsWithMemory returns the accelerators whose device memory matches a request by memory
// ("80GB+", "nvidia:24GB"): exactly gib, or at least gib with orMore, from the given manufacturer when one is
// given (case-insensitively). Accelerators whose memory no catalog states are left out. Sorted by memory,
// then name.
func (cat *Catalog) AcceleratorsWithMemory(gib float64, orMore bool, manufacturer string) []string {
	var hits []AcceleratorInfo
	for _, ai := range cat.Accelerators() {
		if ai.MemoryGiB == 0 {
			continue
		}
		if manufacturer != "" && !strings.EqualFold(ai.Manufacturer, manufacturer) {
			continue
		}
		// Catalogs state memory in MiB; "80GB" must match an 80 GiB card exactly, so compare rounded GiB.
		have := math.Round(ai.MemoryGiB)
		if (orMore && have >= gib) || (!orMore && have == math.Round(gib)) {
			hits = append(hits, ai)
		}
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].MemoryGiB < hits[j].MemoryGiB })
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.Name
	}
	return out
}

// AcceleratorCounts lists, sorted, the per-node counts of an accelerator (matched case-insensitively) that the
// cloud can launch, on demand or as spot, in region and zone when given: what `show-gpus` shows as quantities.
func (c *Cloud) AcceleratorCounts(name, region, zone string) []float64 {
	var counts []float64
	for _, i := range c.byAcc[strings.ToLower(name)] {
		r := &c.rows[i]
		if r.accCount <= 0 || slices.Contains(counts, r.accCount) || region != "" && r.region != region || zone != "" && r.zone != zone {
			continue
		}
		for _, spot := range []bool{false, true} {
			q := Query{Accelerator: name, AcceleratorCount: r.accCount, Region: region, Zone: zone, UseSpot: spot}
			if ins, err := c.Instances(q); err == nil && len(ins) > 0 {
				counts = append(counts, r.accCount)
				break
			}
		}
	}
	slices.Sort(counts)
	return counts
}
