package catalog

import (
	"math"
	"slices"
	"sort"
	"strings"
)

// Cloud is one cloud's offerings, indexed for queries. It is read-only after Load and safe for concurrent use.
type Cloud struct {
	name   string
	file   string // vms.csv as named in messages
	traits traits
	rows   []row
	zones  bool // the catalog has an AvailabilityZone column

	byAcc        map[string][]int32 // lower-case accelerator name -> rows
	byType       map[string][]int32 // instance type -> rows
	defaultRows  []int32            // rows of the default families (all instance rows when the cloud has none)
	accNames     map[string]string  // lower-case -> canonical accelerator name
	accMemory    map[string]float64 // lower-case accelerator name -> GiB per device (the rows' mode), when GpuInfo says
	accMaker     map[string]string  // lower-case accelerator name -> manufacturer, when a GpuInfo says
	regions      map[string]string  // lower-case region -> canonical
	regionZones  map[string][]string
	zoneRegion   map[string]string // zone -> region
	regionList   []string          // sorted canonical regions; a row's regionID indexes it
	regionIDs    map[string]int32
	zoneIDs      map[string]int32
	instanceList []string // sorted instance types
	images       *images
	// imagesErr is why images.csv could not be read (not cached, download failed): only image tags need it,
	// so it fails those lookups rather than every plan on the cloud.
	imagesErr error
}

// Name is the cloud's lower-case name ("aws"), its catalog directory.
func (c *Cloud) Name() string { return c.name }

// Display is the cloud's name as SkyPilot prints it ("AWS").
func (c *Cloud) Display() string { return c.traits.display }

// Regions lists the cloud's regions in the order CompareRegions gives (SkyPilot's order for regions of equal
// price).
func (c *Cloud) Regions() []string { return append([]string(nil), c.regionList...) }

// Zones lists a region's zones, sorted; nil for a cloud without zones or an unknown region.
func (c *Cloud) Zones(region string) []string {
	return append([]string(nil), c.regionZones[c.regions[strings.ToLower(region)]]...)
}

// HasZones reports whether the catalog lists availability zones.
func (c *Cloud) HasZones() bool { return c.zones }

// Rows is the number of offerings rows indexed.
func (c *Cloud) Rows() int { return len(c.rows) }

// newCloud indexes parsed rows. Instance types, regions and zones get dense ids in sorted name order, so that
// queries compare and group rows by integers.
func newCloud(name, file string, rows []row, zones bool) *Cloud {
	t := traitsFor(name)
	if t.dedupeZones && zones {
		rows = dedupeByZone(rows)
	}
	c := &Cloud{
		name: name, file: file, traits: t, rows: rows, zones: zones,
		byAcc: map[string][]int32{}, byType: map[string][]int32{}, accNames: map[string]string{},
		accMemory: map[string]float64{}, accMaker: map[string]string{},
		regions: map[string]string{}, regionZones: map[string][]string{}, zoneRegion: map[string]string{},
	}
	lower := map[string]string{} // accelerator name -> lower case, computed once per distinct name
	gpu := map[string]gpuInfo{}  // GpuInfo cell -> parsed, once per distinct cell
	memVotes := map[string]map[float64]int{}
	regionIDs := map[string]int32{}
	zoneIDs := map[string]int32{}
	var zoneNames []string
	for i := range rows {
		r := &rows[i]
		idx := int32(i)
		if r.accName != "" {
			l, ok := lower[r.accName]
			if !ok {
				l = strings.ToLower(r.accName)
				lower[r.accName] = l
				if _, have := c.accNames[l]; !have {
					c.accNames[l] = r.accName
				}
			}
			c.byAcc[l] = append(c.byAcc[l], idx)
			if r.gpuInfo != "" {
				gi, ok := gpu[r.gpuInfo]
				if !ok {
					gi, _ = parseGpuInfo(r.gpuInfo)
					gpu[r.gpuInfo] = gi
				}
				if gi.MemoryGiB > 0 {
					if memVotes[l] == nil {
						memVotes[l] = map[float64]int{}
					}
					memVotes[l][gi.MemoryGiB]++
				}
				if gi.Manufacturer != "" {
					c.accMaker[l] = gi.Manufacturer
				}
			}
		}
		c.byType[r.instanceType] = append(c.byType[r.instanceType], idx)
		id, ok := regionIDs[r.region]
		if !ok {
			id = int32(len(c.regionList))
			regionIDs[r.region] = id
			if _, dup := c.regions[strings.ToLower(r.region)]; !dup {
				c.regions[strings.ToLower(r.region)] = r.region
			}
			c.regionList = append(c.regionList, r.region)
		}
		r.regionID = id
		r.zoneID = -1
		if r.zone != "" {
			id, ok := zoneIDs[r.zone]
			if !ok {
				id = int32(len(zoneNames))
				zoneIDs[r.zone] = id
				zoneNames = append(zoneNames, r.zone)
				c.zoneRegion[r.zone] = r.region
				c.regionZones[r.region] = append(c.regionZones[r.region], r.zone)
			}
			r.zoneID = id
		}
	}
	for l, votes := range memVotes {
		c.accMemory[l] = mode(votes)
	}
	// Renumber regions in the order SkyPilot tries regions of equal price (CompareRegions), zones in name
	// order, so that queries break price ties by comparing ids.
	byRegion := func(a, b string) bool { return CompareRegions(name, a, b) < 0 }
	byName := func(a, b string) bool { return a < b }
	remap := func(names []string, less func(a, b string) bool) []int32 {
		order := make([]int32, len(names))
		for i := range order {
			order[i] = int32(i)
		}
		sort.Slice(order, func(a, b int) bool { return less(names[order[a]], names[order[b]]) })
		perm := make([]int32, len(names))
		for newID, old := range order {
			perm[old] = int32(newID)
		}
		return perm
	}
	regionPerm, zonePerm := remap(c.regionList, byRegion), remap(zoneNames, byName)
	for i := range rows {
		r := &rows[i]
		r.regionID = regionPerm[r.regionID]
		if r.zoneID >= 0 {
			r.zoneID = zonePerm[r.zoneID]
		}
	}
	sort.Slice(c.regionList, func(i, j int) bool { return byRegion(c.regionList[i], c.regionList[j]) })
	c.regionIDs = make(map[string]int32, len(c.regionList))
	for i, n := range c.regionList {
		c.regionIDs[n] = int32(i)
	}
	sort.Strings(zoneNames)
	c.zoneIDs = make(map[string]int32, len(zoneNames))
	for i, n := range zoneNames {
		c.zoneIDs[n] = int32(i)
	}
	for _, zs := range c.regionZones {
		sort.Strings(zs)
	}
	// Instance types: ids in name order, assigned through byType (no per-row lookups), and the default
	// families' rows.
	allTypes := sortedKeys(c.byType)
	for id, it := range allTypes {
		family := it != "" && (t.defaultFamily == nil || t.defaultFamily(it))
		for _, i := range c.byType[it] {
			rows[i].typeID = int32(id)
		}
		if family {
			c.defaultRows = append(c.defaultRows, c.byType[it]...)
		}
	}
	// Keep file order for the default rows (the order SkyPilot's ties fall back to).
	slices.Sort(c.defaultRows)
	delete(c.byType, "") // GCP's accelerator price rows are not an instance type
	c.instanceList = sortedKeys(c.byType)
	return c
}

// mode returns the most frequent value, the smallest among equals. Device memory comes from GpuInfo cells, and
// some catalogs (Nebius) put the host's memory there: the value most rows agree on is the device's.
func mode(votes map[float64]int) float64 {
	best, n := 0.0, 0
	for v, k := range votes {
		if k > n || (k == n && v < best) {
			best, n = v, k
		}
	}
	return best
}

// fits reports whether a number from the catalog satisfies an amount: exactly, or at least with OrMore. A
// missing number satisfies nothing, as NaN compares false in SkyPilot's pandas filters.
func fitsAmount(have, want float64, orMore bool) bool {
	if math.IsNaN(have) {
		return false
	}
	if orMore {
		return have >= want
	}
	return have == want
}

// sameCount compares accelerator counts with SkyPilot's tolerance of 0.01.
func sameCount(a, b float64) bool { return math.Abs(a-b) <= 0.01 }
