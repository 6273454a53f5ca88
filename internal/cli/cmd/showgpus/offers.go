package showgpus

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cli"
)

// Offer is one row of `show-gpus ACCELERATOR`: an instance type with the accelerator, in its cheapest region
// (in each region with --all-regions). It is also the -o json form; a price is null when there is none.
type Offer struct {
	Accelerator     string   `json:"accelerator"`
	Count           float64  `json:"count"`
	Cloud           string   `json:"cloud"`
	InstanceType    string   `json:"instance_type"`
	DeviceMemoryGiB float64  `json:"device_memory_gib,omitempty"`
	VCPUs           float64  `json:"vcpus,omitempty"`
	MemoryGiB       float64  `json:"memory_gib,omitempty"`
	HourlyPrice     *float64 `json:"hourly_price"`
	HourlySpotPrice *float64 `json:"hourly_spot_price"`
	Region          string   `json:"region"`
}

// showOffers prints, for each accelerator whose name contains the one asked (SkyPilot matches names that
// way: "A100" also shows A100-80GB), a table of the instance types offering it, clouds ordered by their
// cheapest offer.
func showOffers(opts *ShowGPUsOptions, sc *scope) error {
	names := matchingNames(sc, opts.Accelerator)
	if len(names) == 0 {
		return unknownAccelerator(sc, opts.Accelerator)
	}
	type table struct {
		name   string
		offers []Offer
	}
	var tables []table
	var all []Offer
	for _, n := range names {
		offers, err := offersFor(sc, n, float64(opts.Count), opts.AllRegions)
		if err != nil {
			return err
		}
		if len(offers) > 0 {
			tables = append(tables, table{n, offers})
			all = append(all, offers...)
		}
	}
	if len(all) == 0 {
		return notOffered(sc, names, opts.Accelerator, opts.Count)
	}
	return opts.Output.Write(opts.IO, all, func() error {
		for i, tb := range tables {
			if i > 0 {
				fmt.Fprintln(opts.IO.Out)
			}
			t := cli.NewTable(opts.IO, "GPU", "QTY", "CLOUD", "INSTANCE_TYPE", "DEVICE_MEM", "vCPUs", "HOST_MEM",
				"HOURLY_PRICE", "HOURLY_SPOT_PRICE", "REGION")
			for _, o := range tb.offers {
				t.AddRow(o.Accelerator, formatCount(o.Count), catalog.DisplayName(o.Cloud), o.InstanceType,
					gigabytes(o.DeviceMemoryGiB), vcpus(o.VCPUs), gigabytes(o.MemoryGiB), price(o.HourlyPrice),
					price(o.HourlySpotPrice), o.Region)
			}
			if err := t.Render(); err != nil {
				return err
			}
		}
		return nil
	})
}

// matchingNames returns the accelerators offered in scope whose name contains name (case-insensitively): an
// exact match first, then the others by name.
func matchingNames(sc *scope, name string) []string {
	inScope := map[string]bool{}
	for _, c := range sc.clouds {
		inScope[c.Name()] = true
	}
	l := strings.ToLower(name)
	var exact string
	var others []string
	for _, ai := range sc.cat.Accelerators() {
		if !slices.ContainsFunc(ai.Clouds, func(c string) bool { return inScope[c] }) {
			continue
		}
		switch {
		case strings.EqualFold(ai.Name, name):
			exact = ai.Name
		case strings.Contains(strings.ToLower(ai.Name), l):
			others = append(others, ai.Name)
		}
	}
	slices.SortFunc(others, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	if exact != "" {
		return append([]string{exact}, others...)
	}
	return others
}

// unknownAccelerator is the error for a name no accelerator in scope contains, with suggestions.
func unknownAccelerator(sc *scope, name string) error {
	if len(sc.clouds) == 1 && sc.explicit {
		if elsewhere := sc.cat.AcceleratorClouds(name); len(elsewhere) > 0 {
			return fmt.Errorf("%s does not offer %s; SkyPilot's catalog lists it on %s", sc.clouds[0].Display(), name,
				strings.Join(elsewhere, ", "))
		}
	}
	msg := fmt.Sprintf("accelerator %q is not in the catalog", name)
	if sc.explicit {
		msg = fmt.Sprintf("accelerator %q is not offered on %s", name, sc.clouds[0].Display())
	}
	msg += sc.where()
	if s := sc.cat.SuggestAccelerators(name); len(s) > 0 {
		msg += "; did you mean: " + strings.Join(s, ", ") + "?"
	}
	return errors.New(msg + " Run `stix show-gpus -a` to list every accelerator.")
}

// notOffered is the error for known accelerators with no offer at the count or place asked.
func notOffered(sc *scope, names []string, asked string, count int) error {
	var have []string
	for _, n := range names {
		var counts []float64
		for _, c := range sc.clouds {
			for _, k := range c.AcceleratorCounts(n, sc.region, sc.zone) {
				if !slices.Contains(counts, k) {
					counts = append(counts, k)
				}
			}
		}
		if len(counts) > 0 {
			slices.Sort(counts)
			have = append(have, n+": "+joinCounts(counts))
		}
	}
	label := asked
	if count > 0 {
		label = fmt.Sprintf("%s:%d", asked, count)
	}
	if len(have) == 0 {
		return fmt.Errorf("no instance offers %s%s", label, sc.where())
	}
	return fmt.Errorf("no instance offers %s%s; counts on offer: %s", label, sc.where(), strings.Join(have, "; "))
}

// offersFor lists the offers of one accelerator in scope, at one count (0: every count), sorted.
func offersFor(sc *scope, name string, count float64, allRegions bool) ([]Offer, error) {
	var out []Offer
	for _, c := range sc.clouds {
		counts := []float64{count}
		if count == 0 {
			counts = c.AcceleratorCounts(name, sc.region, sc.zone)
		}
		var offers []Offer
		for _, n := range counts {
			got, err := cloudOffers(c, name, n, sc.region, sc.zone)
			if err != nil {
				return nil, err
			}
			offers = append(offers, got...)
		}
		if !allRegions {
			offers = cheapestRegions(offers)
		}
		out = append(out, offers...)
	}
	sortOffers(out)
	return out, nil
}

// cloudOffers returns one cloud's offers of name:count, one per (instance type, region), each with the lowest
// on-demand and spot prices among the region's zones.
func cloudOffers(c *catalog.Cloud, name string, count float64, region, zone string) ([]Offer, error) {
	type key struct{ instanceType, region string }
	byKey := map[key]*Offer{}
	var order []key
	for _, spot := range []bool{false, true} {
		ins, err := c.Instances(catalog.Query{Accelerator: name, AcceleratorCount: count, Region: region, Zone: zone, UseSpot: spot})
		var nf *catalog.NoFitError
		if errors.As(err, &nf) {
			continue // nothing at this count or pricing
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Display(), err)
		}
		for _, in := range ins {
			if math.IsNaN(in.Price) {
				continue
			}
			k := key{in.InstanceType, in.Region}
			o, ok := byKey[k]
			if !ok {
				o = &Offer{Accelerator: in.AcceleratorName, Count: in.AcceleratorCount, Cloud: in.Cloud,
					InstanceType: in.InstanceType, DeviceMemoryGiB: in.DeviceMemoryGiB, VCPUs: in.VCPUs,
					MemoryGiB: in.MemoryGiB, Region: in.Region}
				if o.Accelerator == "" {
					o.Accelerator, o.Count = name, count
				}
				byKey[k] = o
				order = append(order, k)
			}
			p := &o.HourlyPrice
			if spot {
				p = &o.HourlySpotPrice
			}
			if *p == nil || in.Price < **p {
				v := in.Price
				*p = &v
			}
		}
	}
	out := make([]Offer, len(order))
	for i, k := range order {
		out[i] = *byKey[k]
	}
	return out, nil
}

// cheapestRegions keeps, per (count, instance type), the offer of its cheapest region (on-demand price, then
// spot price, then region name), as SkyPilot shows without --all-regions.
func cheapestRegions(offers []Offer) []Offer {
	type key struct {
		count        float64
		instanceType string
	}
	best := map[key]int{}
	var order []key
	for i, o := range offers {
		k := key{o.Count, o.InstanceType}
		j, ok := best[k]
		if !ok {
			order = append(order, k)
			best[k] = i
			continue
		}
		if compareByPrice(o, offers[j]) < 0 {
			best[k] = i
		}
	}
	out := make([]Offer, len(order))
	for i, k := range order {
		out[i] = offers[best[k]]
	}
	return out
}

// sortOffers orders clouds by their cheapest offer (on-demand, then spot), and each cloud's offers by price,
// as SkyPilot does; ties by count, instance type and region.
func sortOffers(offers []Offer) {
	type minima struct{ price, spot float64 }
	low := map[string]minima{}
	for _, o := range offers {
		m, ok := low[o.Cloud]
		if !ok {
			m = minima{math.Inf(1), math.Inf(1)}
		}
		low[o.Cloud] = minima{min(m.price, orInf(o.HourlyPrice)), min(m.spot, orInf(o.HourlySpotPrice))}
	}
	slices.SortStableFunc(offers, func(a, b Offer) int {
		ma, mb := low[a.Cloud], low[b.Cloud]
		return cmp.Or(cmp.Compare(ma.price, mb.price), cmp.Compare(ma.spot, mb.spot), strings.Compare(a.Cloud, b.Cloud),
			compareByPrice(a, b))
	})
}

// compareByPrice orders offers by on-demand price, spot price (none last), count, instance type and region.
func compareByPrice(a, b Offer) int {
	return cmp.Or(cmp.Compare(orInf(a.HourlyPrice), orInf(b.HourlyPrice)),
		cmp.Compare(orInf(a.HourlySpotPrice), orInf(b.HourlySpotPrice)), cmp.Compare(a.Count, b.Count),
		strings.Compare(a.InstanceType, b.InstanceType), strings.Compare(a.Region, b.Region))
}

func orInf(p *float64) float64 {
	if p == nil {
		return math.Inf(1)
	}
	return *p
}

// price, gigabytes and vcpus format cells as SkyPilot does: "$ 32.773", "40GB", "96" (or "-" when unknown).
func price(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("$ %.3f", *p)
}

func gigabytes(g float64) string {
	if g <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fGB", g)
}

func vcpus(n float64) string {
	switch {
	case n <= 0:
		return "-"
	case n == math.Trunc(n):
		return fmt.Sprintf("%.0f", n)
	}
	return fmt.Sprintf("%.1f", n)
}
