package catalog

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

// row is one line of a vms.csv. Missing numbers are NaN (pandas' reading of an empty cell).
type row struct {
	instanceType string // empty for GCP's accelerator price rows
	accName      string
	region       string
	zone         string
	gpuInfo      string
	accCount     float64
	cpus         float64
	mem          float64
	price        float64
	spot         float64
	line         int32
	// Dense ids assigned by newCloud, in name order: for comparing and grouping without strings.
	typeID   int32
	regionID int32
	zoneID   int32 // -1: no zone
}

// priceFor returns the row's price for the pricing asked (NaN when the catalog has none).
func (r *row) priceFor(spot bool) float64 {
	if spot {
		return r.spot
	}
	return r.price
}

// vmsColumns are the vms.csv columns stix reads, found by header name (their order differs per cloud).
type vmsColumns struct {
	instanceType, accName, accCount, cpus, mem, gpuInfo, price, spot, region, zone int
}

// required columns; the others may be absent (Lambda and Azure have no AvailabilityZone).
var requiredVMSColumns = []string{"InstanceType", "vCPUs", "MemoryGiB", "Price", "Region"}

func parseVMSHeader(r *csvReader, header []string) (vmsColumns, error) {
	idx := map[string]int{}
	for i, h := range header {
		idx[strings.ToLower(strings.TrimSpace(h))] = i
	}
	col := func(name string) int {
		if i, ok := idx[strings.ToLower(name)]; ok {
			return i
		}
		return -1
	}
	for _, name := range requiredVMSColumns {
		if col(name) < 0 {
			return vmsColumns{}, r.errorf("header has no %s column (found %s)", name, strings.Join(header, ","))
		}
	}
	return vmsColumns{
		instanceType: col("InstanceType"), accName: col("AcceleratorName"), accCount: col("AcceleratorCount"),
		cpus: col("vCPUs"), mem: col("MemoryGiB"), gpuInfo: col("GpuInfo"), price: col("Price"),
		spot: col("SpotPrice"), region: col("Region"), zone: col("AvailabilityZone"),
	}, nil
}

// parseVMS reads a whole vms.csv. Strings are interned so that rows share them instead of pinning the file.
func parseVMS(file, data string) ([]row, bool, error) {
	r := newCSVReader(file, data)
	header, ok, err := r.Read()
	if err != nil {
		return nil, false, err
	}
	if !ok {
		return nil, false, &FileError{File: file, Msg: "file is empty (expected a header line)"}
	}
	header = append([]string(nil), header...)
	cols, err := parseVMSHeader(r, header)
	if err != nil {
		return nil, false, err
	}
	intern := map[string]string{}
	str := func(rec []string, i int) string {
		if i < 0 {
			return ""
		}
		s := strings.TrimSpace(rec[i])
		if v, ok := intern[s]; ok {
			return v
		}
		s = strings.Clone(s)
		intern[s] = s
		return s
	}
	var numErr error
	num := func(rec []string, i int, name string) float64 {
		if i < 0 {
			return math.NaN()
		}
		f, err := parseCell(rec[i])
		if err != nil && numErr == nil {
			numErr = r.errorf("column %s: %q is not a number", name, clip(rec[i]))
		}
		return f
	}
	// Pre-size from the line count: one allocation instead of a dozen regrowths on a big file.
	rows := make([]row, 0, strings.Count(data, "\n"))
	for {
		rec, ok, err := r.Read()
		if err != nil {
			return nil, false, err
		}
		if !ok {
			break
		}
		if len(rec) != len(header) {
			return nil, false, r.errorf("has %d fields, the header has %d (file truncated or corrupted?)", len(rec), len(header))
		}
		rw := row{
			instanceType: str(rec, cols.instanceType),
			accName:      str(rec, cols.accName),
			region:       str(rec, cols.region),
			zone:         str(rec, cols.zone),
			gpuInfo:      str(rec, cols.gpuInfo),
			accCount:     num(rec, cols.accCount, "AcceleratorCount"),
			cpus:         num(rec, cols.cpus, "vCPUs"),
			mem:          num(rec, cols.mem, "MemoryGiB"),
			price:        num(rec, cols.price, "Price"),
			spot:         num(rec, cols.spot, "SpotPrice"),
			line:         int32(r.line),
		}
		if numErr != nil {
			return nil, false, numErr
		}
		if rw.region == "" {
			return nil, false, r.errorf("empty Region")
		}
		rows = append(rows, rw)
	}
	return rows, cols.zone >= 0, nil
}

// parseCell parses a numeric cell; empty and "nan" cells are NaN, as pandas reads them.
func parseCell(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "nan") {
		return math.NaN(), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return math.NaN(), strconv.ErrSyntax
	}
	return f, nil
}

// dedupeByZone keeps, per (instance type, region, zone), the row with the lowest spot price (rows without one
// last), in file order otherwise: SkyPilot's treatment of AWS's repeated rows.
func dedupeByZone(rows []row) []row {
	type key struct{ it, region, zone string }
	best := make(map[key]int, len(rows))
	keep := make([]bool, len(rows))
	for i := range rows {
		r := &rows[i]
		k := key{r.instanceType, r.region, r.zone}
		j, seen := best[k]
		if !seen {
			best[k] = i
			keep[i] = true
			continue
		}
		if o := &rows[j]; !math.IsNaN(r.spot) && (math.IsNaN(o.spot) || r.spot < o.spot) {
			keep[j], keep[i] = false, true
			best[k] = i
		}
	}
	out := rows[:0]
	for i := range rows {
		if keep[i] {
			out = append(out, rows[i])
		}
	}
	return out
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
