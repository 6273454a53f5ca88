package catalog

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
)

// Query asks which instances of a cloud fit. Zero fields ask for nothing. With neither an accelerator nor an
// instance type, the cloud's default families and shape apply as in SkyPilot (e.g. AWS: m6i/m7i/r6i/r7i/c6i/c7i
// families, 8+ vCPUs, 4 GB of memory per vCPU, unless cpus or memory are given).
type Query struct {
	Accelerator      string  // matched case-insensitively: "a100" finds "A100"
	AcceleratorCount float64 // per node; 0 means 1
	CPUs             cloud.Amount
	Memory           cloud.Memory
	InstanceType     string
	UseSpot          bool
	Region           string
	Zone             string
}

// Instance is one offering: an instance type at a place with its hourly price for the pricing asked.
type Instance struct {
	Cloud            string
	InstanceType     string // "TPU-VM" for GCP TPU VMs
	AcceleratorName  string
	AcceleratorCount float64
	VCPUs            float64 // 0 when the catalog does not say (GCP TPU VMs)
	MemoryGiB        float64 // 0 when the catalog does not say
	DeviceMemoryGiB  float64 // per accelerator, 0 when unknown
	Price            float64 // USD per hour: spot when Spot, on-demand otherwise; GCP adds the GPU's price
	Spot             bool
	Region           string
	Zone             string
}

// cand is an instance before conversion: the VM's row, and on GCP the row pricing an attached accelerator.
type cand struct {
	host  int32 // -1 for a TPU VM, which has no VM row
	acc   int32 // -1 when the price is the VM row's alone
	price float64
}

// place is a validated region and zone filter ("" and -1 = any).
type place struct {
	region, zone     string
	regionID, zoneID int32
}

func (p place) match(r *row) bool {
	return (p.regionID < 0 || r.regionID == p.regionID) && (p.zoneID < 0 || r.zoneID == p.zoneID)
}

// Instances returns the instances fitting q, cheapest first (ties by instance type, region, zone). Each zone
// (or region, for clouds without zones) is a separate entry. When nothing fits the error is a *NoFitError
// saying why, with "did you mean" suggestions and hints; an unknown region or zone is a *LocationError.
func (c *Cloud) Instances(q Query) ([]Instance, error) {
	cands, err := c.fit(q)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(cands, c.compareCand)
	out := make([]Instance, len(cands))
	for i, cd := range cands {
		out[i] = c.instance(cd, q.UseSpot)
	}
	return out, nil
}

// fit returns the candidates fitting q, unsorted.
func (c *Cloud) fit(q Query) ([]cand, error) {
	if q.AcceleratorCount == 0 {
		q.AcceleratorCount = 1
	}
	if q.AcceleratorCount < 0 || math.IsNaN(q.AcceleratorCount) || q.CPUs.Value < 0 || q.Memory.Value < 0 {
		return nil, fmt.Errorf("invalid request: negative accelerator count, cpus or memory")
	}
	loc, err := c.validateLocation(q.Region, q.Zone)
	if err != nil {
		return nil, err
	}
	if q.UseSpot && c.traits.noSpot {
		return nil, c.noFit(fmt.Sprintf("%s does not offer spot instances", c.traits.display))
	}
	var cands []cand
	var nf *NoFitError
	switch {
	case q.InstanceType != "":
		cands, nf = c.byInstanceType(q, loc)
	case q.Accelerator != "" && c.name == "gcp":
		cands, nf = c.gcpAccelerator(q, loc)
	case q.Accelerator != "":
		cands, nf = c.byAccelerator(q, loc)
	default:
		cands, nf = c.byShape(q, loc)
	}
	if nf != nil {
		return nil, nf
	}
	return cands, nil
}

// compareCand orders candidates by price, then instance type, region, zone and file order.
func (c *Cloud) compareCand(a, b cand) int {
	if a.price != b.price {
		return cmp.Compare(a.price, b.price)
	}
	ra, rb := c.placeRow(a), c.placeRow(b)
	if ra.typeID != rb.typeID {
		return cmp.Compare(ra.typeID, rb.typeID)
	}
	if ra.regionID != rb.regionID {
		return cmp.Compare(ra.regionID, rb.regionID)
	}
	if ra.zoneID != rb.zoneID {
		return cmp.Compare(ra.zoneID, rb.zoneID)
	}
	return cmp.Compare(a.acc, b.acc)
}

// placeRow is the row naming a candidate's instance type and place: its VM's, or a TPU's price row.
func (c *Cloud) placeRow(cd cand) *row {
	if cd.host >= 0 {
		return &c.rows[cd.host]
	}
	return &c.rows[cd.acc]
}

// DefaultInstance is the instance SkyPilot picks on this cloud when a task asks for nothing: the cheapest of the
// default families and shape, optionally in a region or zone.
func (c *Cloud) DefaultInstance(region, zone string, spot bool) (Instance, error) {
	ins, err := c.Instances(Query{Region: region, Zone: zone, UseSpot: spot})
	if err != nil {
		return Instance{}, err
	}
	return ins[0], nil
}

func (c *Cloud) instance(cd cand, spot bool) Instance {
	in := Instance{Cloud: c.name, Price: cd.price, Spot: spot}
	if cd.host >= 0 {
		h := &c.rows[cd.host]
		in.InstanceType, in.Region, in.Zone = h.instanceType, h.region, h.zone
		in.VCPUs, in.MemoryGiB = zeroNaN(h.cpus), zeroNaN(h.mem)
		in.AcceleratorName, in.AcceleratorCount = h.accName, zeroNaN(h.accCount)
		if in.AcceleratorName == "" && c.name == "gcp" {
			// GCP's a2/a3/g2 rows name no accelerator: the VM type implies it.
			if acc, n, ok := gcpImpliedAccelerator(h.instanceType); ok {
				in.AcceleratorName, in.AcceleratorCount = acc, n
			}
		}
	}
	if cd.acc >= 0 {
		a := &c.rows[cd.acc]
		in.AcceleratorName, in.AcceleratorCount = a.accName, zeroNaN(a.accCount)
		if cd.host < 0 {
			in.InstanceType, in.Region, in.Zone = gcpTPUVM, a.region, a.zone
		}
	}
	if in.AcceleratorCount == 0 {
		in.AcceleratorName = ""
	}
	if in.AcceleratorName != "" {
		in.DeviceMemoryGiB = c.accMemory[strings.ToLower(in.AcceleratorName)]
	}
	return in
}

func zeroNaN(f float64) float64 {
	if math.IsNaN(f) {
		return 0
	}
	return f
}

// shapeOK reports whether a row has the vCPUs and memory asked. Memory per vCPU ("4x") is always "at least",
// as in SkyPilot.
func shapeOK(r *row, cpus cloud.Amount, mem cloud.Memory) bool {
	if cpus.IsSet() && !fitsAmount(r.cpus, cpus.Value, cpus.OrMore) {
		return false
	}
	if mem.IsSet() {
		if mem.PerCPU {
			return !math.IsNaN(r.mem) && !math.IsNaN(r.cpus) && r.mem >= r.cpus*mem.Value
		}
		return fitsAmount(r.mem, mem.Value, mem.OrMore)
	}
	return true
}

// byShape answers a CPU-only request from the default families.
func (c *Cloud) byShape(q Query, loc place) ([]cand, *NoFitError) {
	cpus, mem := q.CPUs, q.Memory
	if !cpus.IsSet() && !mem.IsSet() {
		cpus = c.traits.defaultCPUs
	}
	if !mem.IsSet() && c.traits.defaultMemPerCPU > 0 {
		mem = cloud.Memory{Value: c.traits.defaultMemPerCPU, PerCPU: true}
	}
	var out []cand
	placed, shaped := 0, 0
	for _, i := range c.defaultRows {
		r := &c.rows[i]
		if !loc.match(r) {
			continue
		}
		placed++
		if !shapeOK(r, cpus, mem) {
			continue
		}
		shaped++
		if p := r.priceFor(q.UseSpot); !math.IsNaN(p) {
			out = append(out, cand{host: i, acc: -1, price: p})
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	what := "instance"
	if c.traits.defaultFamily != nil {
		what = "instance of the default families"
	}
	switch {
	case placed == 0:
		return nil, c.noFit(fmt.Sprintf("%s has no %s%s", c.traits.display, what, loc.suffix()))
	case shaped == 0:
		nf := c.noFit(fmt.Sprintf("no %s %s%s has %s", c.traits.display, what, loc.suffix(), describeShape(cpus, mem)))
		nf.Hints = c.plusHints(q, func(cp cloud.Amount, m cloud.Memory) bool {
			for _, i := range c.defaultRows {
				if r := &c.rows[i]; loc.match(r) && shapeOK(r, cp, withDefaultMem(m, c.traits)) {
					return true
				}
			}
			return false
		})
		return nil, nf
	default:
		return nil, c.noFit(fmt.Sprintf("no %s %s%s with %s has a %s price", c.traits.display, what, loc.suffix(),
			describeShape(cpus, mem), pricing(q.UseSpot)))
	}
}

func withDefaultMem(m cloud.Memory, t traits) cloud.Memory {
	if !m.IsSet() && t.defaultMemPerCPU > 0 {
		return cloud.Memory{Value: t.defaultMemPerCPU, PerCPU: true}
	}
	return m
}

// byAccelerator answers an accelerator request on clouds whose instance rows name their accelerators.
func (c *Cloud) byAccelerator(q Query, loc place) ([]cand, *NoFitError) {
	rows, nf := c.acceleratorRows(q, loc, false)
	if nf != nil {
		return nil, nf
	}
	var shaped []int32
	for _, i := range rows {
		if shapeOK(&c.rows[i], q.CPUs, q.Memory) {
			shaped = append(shaped, i)
		}
	}
	label := accLabel(c.canonicalAcc(q.Accelerator), q.AcceleratorCount)
	if len(shaped) == 0 {
		nf := c.noFit(fmt.Sprintf("no %s instance with %s%s has %s", c.traits.display, label, loc.suffix(),
			describeShape(q.CPUs, q.Memory)))
		nf.Hints = c.plusHints(q, func(cp cloud.Amount, m cloud.Memory) bool {
			for _, i := range rows {
				if shapeOK(&c.rows[i], cp, m) {
					return true
				}
			}
			return false
		})
		return nil, nf
	}
	var out []cand
	for _, i := range shaped {
		if p := c.rows[i].priceFor(q.UseSpot); !math.IsNaN(p) {
			out = append(out, cand{host: i, acc: -1, price: p})
		}
	}
	if len(out) == 0 {
		return nil, c.noFit(fmt.Sprintf("no %s instance with %s%s has a %s price", c.traits.display, label,
			loc.suffix(), pricing(q.UseSpot)))
	}
	return out, nil
}

// acceleratorRows returns the rows offering the accelerator in the count asked at the place; priceRows selects
// GCP's accelerator price rows (no instance type) instead of instance rows. When there are none, the error
// carries SkyPilot's fuzzy candidates: accelerators whose name contains the one asked, in at least that count.
func (c *Cloud) acceleratorRows(q Query, loc place, priceRows bool) ([]int32, *NoFitError) {
	l := strings.ToLower(q.Accelerator)
	var out []int32
	for _, i := range c.byAcc[l] {
		r := &c.rows[i]
		if (r.instanceType == "") == priceRows && sameCount(r.accCount, q.AcceleratorCount) && loc.match(r) {
			out = append(out, i)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	label := accLabel(c.canonicalAcc(q.Accelerator), q.AcceleratorCount)
	var nf *NoFitError
	if _, known := c.accNames[l]; !known {
		nf = c.noFit(fmt.Sprintf("%s does not offer %s", c.traits.display, q.Accelerator))
	} else if counts := c.accCounts(l, loc); len(counts) > 0 {
		nf = c.noFit(fmt.Sprintf("%s offers %s%s only as %s", c.traits.display, c.accNames[l], loc.suffix(), strings.Join(counts, ", ")))
	} else {
		nf = c.noFit(fmt.Sprintf("%s does not offer %s%s", c.traits.display, label, loc.suffix()))
	}
	nf.Suggestions = c.fuzzyAccelerators(q.Accelerator, q.AcceleratorCount, loc)
	return nil, nf
}

// accCounts lists "NAME:N" for each count the cloud offers an accelerator in at a place.
func (c *Cloud) accCounts(l string, loc place) []string {
	seen := map[float64]bool{}
	var counts []float64
	for _, i := range c.byAcc[l] {
		r := &c.rows[i]
		if loc.match(r) && !seen[r.accCount] && !math.IsNaN(r.accCount) {
			seen[r.accCount] = true
			counts = append(counts, r.accCount)
		}
	}
	sort.Float64s(counts)
	out := make([]string, len(counts))
	for i, n := range counts {
		out[i] = accLabel(c.accNames[l], n)
	}
	return out
}

// fuzzyAccelerators is SkyPilot's "Did you mean": accelerators whose name contains the one asked
// (case-insensitively) offered in at least the count asked, cheapest first, plus, for a name the cloud does not
// know, names within a small edit distance ("A10O" -> "A100"), as "NAME:COUNT".
func (c *Cloud) fuzzyAccelerators(name string, count float64, loc place) []string {
	l := strings.ToLower(name)
	type hit struct {
		label string
		price float64
	}
	var hits []hit
	seen := map[string]bool{}
	add := func(names []string) {
		var batch []hit
		for _, an := range names {
			for _, i := range c.byAcc[strings.ToLower(an)] {
				r := &c.rows[i]
				if !loc.match(r) || math.IsNaN(r.accCount) || r.accCount < count {
					continue
				}
				lb := accLabel(r.accName, r.accCount)
				if !seen[lb] {
					seen[lb] = true
					batch = append(batch, hit{lb, r.price})
				}
			}
		}
		sort.SliceStable(batch, func(i, j int) bool { return lessNaN(batch[i].price, batch[j].price) })
		hits = append(hits, batch...)
	}
	var containing []string
	for ln, canon := range c.accNames {
		if strings.Contains(ln, l) {
			containing = append(containing, canon)
		}
	}
	sort.Strings(containing)
	add(containing)
	if _, known := c.accNames[l]; !known {
		// Typos: only for a name this cloud does not know, or "H100:1" would suggest A100 and H200.
		add(closest(name, sortedValues(c.accNames), 3))
	}
	out := make([]string, 0, len(hits))
	for _, h := range hits {
		out = append(out, h.label)
	}
	return out
}

// lessNaN orders numbers with NaN last.
func lessNaN(a, b float64) bool {
	if math.IsNaN(b) {
		return !math.IsNaN(a)
	}
	return a < b
}

func sortedValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// canonicalAcc returns the catalog's spelling of an accelerator name, or the name as given.
func (c *Cloud) canonicalAcc(name string) string {
	if n, ok := c.accNames[strings.ToLower(name)]; ok {
		return n
	}
	return name
}

// plusHints returns SkyPilot's advice to add "+" when an exact cpus or memory request matched nothing but the
// same request as a minimum would have. fits tells whether any row fits a given shape.
func (c *Cloud) plusHints(q Query, fits func(cloud.Amount, cloud.Memory) bool) []string {
	var hints []string
	if q.CPUs.IsSet() && !q.CPUs.OrMore {
		more := q.CPUs
		more.OrMore = true
		if fits(more, q.Memory) || (q.Memory.IsSet() && !q.Memory.OrMore && !q.Memory.PerCPU && fits(more, cloud.Memory{Value: q.Memory.Value, OrMore: true})) {
			hints = append(hints, fmt.Sprintf("Try specifying a different CPU count, or add \"+\" to the end of the CPU count to allow for larger instances (cpus: %s+).", fmtNum(q.CPUs.Value)))
		}
	}
	if q.Memory.IsSet() && !q.Memory.OrMore && !q.Memory.PerCPU {
		more := q.Memory
		more.OrMore = true
		if fits(q.CPUs, more) || (q.CPUs.IsSet() && !q.CPUs.OrMore && fits(cloud.Amount{Value: q.CPUs.Value, OrMore: true}, more)) {
			hints = append(hints, fmt.Sprintf("Try specifying a different memory size, or add \"+\" to the end of the memory size to allow for larger instances (memory: %s+).", fmtNum(q.Memory.Value)))
		}
	}
	return hints
}

// byInstanceType answers a request naming an instance type.
func (c *Cloud) byInstanceType(q Query, loc place) ([]cand, *NoFitError) {
	rows := c.byType[q.InstanceType]
	if len(rows) == 0 {
		nf := c.noFit(fmt.Sprintf("%s has no instance type %q", c.traits.display, q.InstanceType))
		nf.Suggestions = closest(q.InstanceType, c.instanceList, 5)
		return nil, nf
	}
	if c.name == "gcp" {
		return c.gcpInstanceType(q, loc, rows)
	}
	first := &c.rows[rows[0]]
	if q.Accelerator != "" && (!strings.EqualFold(first.accName, q.Accelerator) || !sameCount(first.accCount, q.AcceleratorCount)) {
		has := "no accelerators"
		if first.accName != "" {
			has = accLabel(first.accName, first.accCount)
		}
		return nil, c.noFit(fmt.Sprintf("instance type %s has %s; the task asks for %s", q.InstanceType, has,
			accLabel(q.Accelerator, q.AcceleratorCount)))
	}
	if !shapeOK(first, q.CPUs, q.Memory) {
		return nil, c.noFit(fmt.Sprintf("instance type %s has %s vCPUs and %s GB memory; the task asks for %s",
			q.InstanceType, fmtNum(first.cpus), fmtNum(first.mem), describeShape(q.CPUs, q.Memory)))
	}
	var out []cand
	placed := 0
	for _, i := range rows {
		r := &c.rows[i]
		if !loc.match(r) {
			continue
		}
		placed++
		if p := r.priceFor(q.UseSpot); !math.IsNaN(p) {
			out = append(out, cand{host: i, acc: -1, price: p})
		}
	}
	switch {
	case placed == 0:
		return nil, c.noFit(fmt.Sprintf("%s does not offer %s%s", c.traits.display, q.InstanceType, loc.suffix()))
	case len(out) == 0:
		return nil, c.noFit(fmt.Sprintf("%s has no %s price for %s%s", c.traits.display, pricing(q.UseSpot), q.InstanceType, loc.suffix()))
	}
	return out, nil
}

func (c *Cloud) noFit(reason string) *NoFitError {
	return &NoFitError{Cloud: c.name, Reasons: []string{reason}}
}

func (p place) suffix() string {
	switch {
	case p.zone != "":
		return " in zone " + p.zone
	case p.region != "":
		return " in region " + p.region
	}
	return ""
}

func pricing(spot bool) string {
	if spot {
		return "spot"
	}
	return "on-demand"
}

// accLabel writes "A100:8" (or "V100:0.50" for fractions, as SkyPilot's fuzzy list does).
func accLabel(name string, count float64) string {
	if count == math.Trunc(count) {
		return name + ":" + strconv.FormatFloat(count, 'f', 0, 64)
	}
	return name + ":" + strconv.FormatFloat(count, 'f', 2, 64)
}

// describeShape writes a cpus/memory request for messages: "4+ vCPUs and 16 GB memory".
func describeShape(cpus cloud.Amount, mem cloud.Memory) string {
	var parts []string
	if cpus.IsSet() {
		parts = append(parts, cpus.String()+" vCPUs")
	}
	if mem.IsSet() {
		if mem.PerCPU {
			parts = append(parts, fmtNum(mem.Value)+" GB memory per vCPU")
		} else {
			parts = append(parts, mem.String()+" GB memory")
		}
	}
	if len(parts) == 0 {
		return "any shape"
	}
	return strings.Join(parts, " and ")
}

func fmtNum(f float64) string {
	if math.IsNaN(f) {
		return "-"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
