package embedded

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cloud/credentials"
	"github.com/stix-run/stix/internal/cloud/kubernetes"
	"github.com/stix-run/stix/internal/kubeapi"
	"github.com/stix-run/stix/internal/spec"
)

// commonGPUs and googleTPUs are SkyPilot's fixed lists for the first two tables of `show-gpus`
// (sky.catalog.get_common_gpus and get_tpus); every other accelerator goes to OTHER_GPU.
var (
	commonGPUs = []string{"A10", "A10G", "A100", "A100-80GB", "B200", "H100", "H200", "L4", "L40S", "T4", "V100",
		"V100-32GB"}
	googleTPUs = []string{"tpu-v2-8", "tpu-v3-8", "tpu-v4-8", "tpu-v4-16", "tpu-v4-32", "tpu-v5litepod-1",
		"tpu-v5litepod-4", "tpu-v5litepod-8", "tpu-v5p-8", "tpu-v5p-16", "tpu-v5p-32", "tpu-v6e-1", "tpu-v6e-4",
		"tpu-v6e-8"}
)

// scope is the part of the catalog a query looks at: clouds, and a region and zone.
type scope struct {
	cat          *catalog.Catalog
	clouds       []*catalog.Cloud
	region, zone string
	// explicit: the user named the cloud, so its errors (an unknown region) are reported, not skipped.
	explicit bool
}

// scopeOf loads the catalog for q: the cloud q.Infra names; else every catalog cloud with q.AllClouds; else
// the enabled ones (as `stix check` found them).
func (c *Client) scopeOf(ctx context.Context, q api.GPUQuery) (*scope, error) {
	var inf spec.Infra
	if q.Infra != "" {
		var err error
		if inf, err = spec.ParseInfra(q.Infra); err != nil {
			return nil, err
		}
	}
	if inf.Cloud != "" && credentials.KindOf(inf.Cloud) != credentials.Priced {
		return nil, fmt.Errorf("%s has no catalog: show-gpus lists the clouds' offerings; what your own "+
			"infrastructure has is on its nodes", catalog.DisplayName(inf.Cloud))
	}
	src, err := c.catalogSource()
	if err != nil {
		return nil, err
	}
	var names []string
	switch {
	case inf.Cloud != "":
		names = []string{inf.Cloud}
	case !q.AllClouds:
		if names, err = c.enabledCatalogClouds(ctx, src, q.Name != ""); err != nil {
			return nil, err
		}
	}
	cat, err := catalog.Load(ctx, src, names...)
	if err != nil {
		return nil, err
	}
	sc := &scope{cat: cat, region: inf.Region, zone: inf.Zone, explicit: inf.Cloud != ""}
	sc.clouds = cat.Clouds()
	if sc.region == "" && sc.zone == "" {
		return sc, nil
	}
	if sc.explicit {
		if _, err := sc.clouds[0].ValidateLocation(sc.region, sc.zone); err != nil {
			return nil, err
		}
		return sc, nil
	}
	// "*/REGION": the clouds that have the region.
	var kept []*catalog.Cloud
	for _, c := range sc.clouds {
		if _, err := c.ValidateLocation(sc.region, sc.zone); err == nil {
			kept = append(kept, c)
		}
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("no cloud in the catalog has %s", strings.TrimPrefix(sc.where(), " in "))
	}
	sc.clouds = kept
	return sc, nil
}

// enabledCatalogClouds lists the enabled clouds that the catalog has, or says how to get one. named: the query
// names an accelerator (where -a/--all is not allowed).
func (c *Client) enabledCatalogClouds(ctx context.Context, src catalog.Source, named bool) ([]string, error) {
	m, err := c.manager()
	if err != nil {
		return nil, err
	}
	enabled, err := m.EnabledInfra(ctx)
	if err != nil {
		return nil, err
	}
	have, err := src.Clouds(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range enabled {
		if slices.Contains(have, n) {
			names = append(names, n)
		}
	}
	if len(names) > 0 {
		return names, nil
	}
	how := "add -a/--all to list every cloud in the catalog"
	if named {
		how = "name a cloud with --infra (e.g. --infra aws) to see its offers"
	}
	return nil, fmt.Errorf("no enabled infra has a catalog of accelerators (enabled: %s): run `stix check` to "+
		"enable a cloud, or %s", displayNames(enabled), how)
}

func displayNames(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = catalog.DisplayName(n)
	}
	return strings.Join(out, ", ")
}

// where names the scope's place for messages: " in us-east-1", or "".
func (sc *scope) where() string {
	switch {
	case sc.zone != "":
		return " in " + sc.zone
	case sc.region != "":
		return " in " + sc.region
	}
	return ""
}

// Accelerators lists the accelerators in scope with their counts: SkyPilot's common GPUs, then Google's TPUs,
// then (with q.AllClouds) every other accelerator by name.
func (c *Client) Accelerators(ctx context.Context, q api.GPUQuery) ([]api.AcceleratorCounts, error) {
	if inf, err := spec.ParseInfra(q.Infra); err == nil && inf.Cloud == kubernetes.Name {
		return c.kubernetesGPUs(ctx, inf.Context, q.Name, q.Count)
	}
	sc, err := c.scopeOf(ctx, q)
	if err != nil {
		return nil, err
	}
	byName := map[string]*api.AcceleratorCounts{}
	inScope := map[string]*catalog.Cloud{}
	for _, c := range sc.clouds {
		inScope[c.Name()] = c
	}
	for _, ai := range sc.cat.Accelerators() {
		row := &api.AcceleratorCounts{Name: ai.Name, Group: groupOf(ai.Name)}
		for _, cn := range ai.Clouds {
			c, ok := inScope[cn]
			if !ok {
				continue
			}
			counts := c.AcceleratorCounts(ai.Name, sc.region, sc.zone)
			if len(counts) == 0 {
				continue
			}
			row.Clouds = append(row.Clouds, cn)
			for _, n := range counts {
				if !slices.Contains(row.Counts, n) {
					row.Counts = append(row.Counts, n)
				}
			}
		}
		if len(row.Counts) > 0 {
			slices.Sort(row.Counts)
			byName[strings.ToLower(ai.Name)] = row
		}
	}
	if len(byName) == 0 {
		return nil, fmt.Errorf("no accelerator is offered%s", sc.where())
	}
	var rows []api.AcceleratorCounts
	take := func(names []string) {
		for _, n := range names {
			if r, ok := byName[strings.ToLower(n)]; ok {
				rows = append(rows, *r)
				delete(byName, strings.ToLower(n))
			}
		}
	}
	take(commonGPUs)
	take(googleTPUs)
	var rest []string
	for _, r := range byName {
		rest = append(rest, r.Name)
	}
	slices.SortFunc(rest, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	take(rest)
	return rows, nil
}

// kubernetesGPUs is `show-gpus [NAME[:COUNT]] --infra k8s[/CONTEXT]`: SkyPilot's real-time view of the allowed
// contexts' nodes, one row per GPU type with the nodes that have it; with a name, that type only, and with a
// count, only the nodes that have that many.
func (c *Client) kubernetesGPUs(ctx context.Context, context, name string, count int) ([]api.AcceleratorCounts, error) {
	// The kubeconfig of the caller's environment (KUBECONFIG, ~/.kube/config), as kubectl reads it.
	p := kubernetes.New(kubernetes.Options{Home: c.opts.Core.Home,
		Kubeconfig: func() (*kubeapi.Kubeconfig, error) { return kubeapi.LoadKubeconfig(c.opts.Getenv) }})
	nodes, err := p.NodeGPUs(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]*api.AcceleratorCounts{}
	var order []string
	for _, n := range nodes {
		if context != "" && n.Context != context || name != "" && !strings.EqualFold(n.GPU, name) || n.Total < count {
			continue
		}
		r := byName[n.GPU]
		if r == nil {
			r = &api.AcceleratorCounts{Name: n.GPU, Group: groupOf(n.GPU)}
			byName[n.GPU] = r
			order = append(order, n.GPU)
		}
		if !slices.Contains(r.Clouds, n.Context) {
			r.Clouds = append(r.Clouds, n.Context)
		}
		// A node can be asked for 1, 2, 4, ... of its GPUs, up to all of them (SkyPilot's requestable quantities).
		for q := 1; q <= n.Total; q *= 2 {
			if !slices.Contains(r.Counts, float64(q)) {
				r.Counts = append(r.Counts, float64(q))
			}
		}
		if !slices.Contains(r.Counts, float64(n.Total)) {
			r.Counts = append(r.Counts, float64(n.Total))
		}
		r.Nodes = append(r.Nodes, api.NodeGPUs{Context: n.Context, Node: n.Node, Total: n.Total, Free: n.Free})
	}
	if len(order) == 0 {
		where := "the allowed Kubernetes contexts"
		if context != "" {
			where = "Kubernetes context " + context
		}
		what := "GPUs"
		if name != "" {
			what = name + " GPUs"
			if count > 0 {
				what = fmt.Sprintf("%d %s GPUs", count, name)
			}
		}
		return nil, fmt.Errorf("no node of %s has %s (by the labels SkyPilot reads: docs/kubernetes.md)", where, what)
	}
	slices.Sort(order)
	rows := make([]api.AcceleratorCounts, 0, len(order))
	for _, n := range order {
		slices.Sort(byName[n].Counts)
		rows = append(rows, *byName[n])
	}
	return rows, nil
}

// groupOf puts an accelerator in its table.
func groupOf(name string) string {
	switch {
	case containsFold(commonGPUs, name):
		return api.GroupCommonGPU
	case containsFold(googleTPUs, name):
		return api.GroupGoogleTPU
	}
	return api.GroupOtherGPU
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

// Offers lists, for each accelerator whose name contains q.Name (SkyPilot matches names that way: "A100" also
// shows A100-80GB), the instance types offering it, clouds ordered by their cheapest offer.
func (c *Client) Offers(ctx context.Context, q api.GPUQuery) ([]api.Offer, error) {
	sc, err := c.scopeOf(ctx, q)
	if err != nil {
		return nil, err
	}
	names := matchingNames(sc, q.Name)
	if len(names) == 0 {
		return nil, unknownAccelerator(sc, q.Name)
	}
	var all []api.Offer
	for _, n := range names {
		offers, err := offersFor(sc, n, float64(q.Count), q.AllRegions)
		if err != nil {
			return nil, err
		}
		all = append(all, offers...)
	}
	if len(all) == 0 {
		return nil, notOffered(sc, names, q.Name, q.Count)
	}
	return all, nil
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
		row := api.AcceleratorCounts{Name: n}
		for _, c := range sc.clouds {
			for _, k := range c.AcceleratorCounts(n, sc.region, sc.zone) {
				if !slices.Contains(row.Counts, k) {
					row.Counts = append(row.Counts, k)
				}
			}
		}
		if len(row.Counts) > 0 {
			slices.Sort(row.Counts)
			have = append(have, n+": "+row.Quantities())
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
func offersFor(sc *scope, name string, count float64, allRegions bool) ([]api.Offer, error) {
	var out []api.Offer
	for _, c := range sc.clouds {
		counts := []float64{count}
		if count == 0 {
			counts = c.AcceleratorCounts(name, sc.region, sc.zone)
		}
		var offers []api.Offer
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
func cloudOffers(c *catalog.Cloud, name string, count float64, region, zone string) ([]api.Offer, error) {
	type key struct{ instanceType, region string }
	byKey := map[key]*api.Offer{}
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
				o = &api.Offer{Accelerator: in.AcceleratorName, Count: in.AcceleratorCount, Cloud: in.Cloud,
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
	out := make([]api.Offer, len(order))
	for i, k := range order {
		out[i] = *byKey[k]
	}
	return out, nil
}

// cheapestRegions keeps, per (count, instance type), the offer of its cheapest region (on-demand price, then
// spot price, then region name), as SkyPilot shows without --all-regions.
func cheapestRegions(offers []api.Offer) []api.Offer {
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
	out := make([]api.Offer, len(order))
	for i, k := range order {
		out[i] = offers[best[k]]
	}
	return out
}

// sortOffers orders clouds by their cheapest offer (on-demand, then spot), and each cloud's offers by price,
// as SkyPilot does; ties by count, instance type and region.
func sortOffers(offers []api.Offer) {
	type minima struct{ price, spot float64 }
	low := map[string]minima{}
	for _, o := range offers {
		m, ok := low[o.Cloud]
		if !ok {
			m = minima{math.Inf(1), math.Inf(1)}
		}
		low[o.Cloud] = minima{min(m.price, orInf(o.HourlyPrice)), min(m.spot, orInf(o.HourlySpotPrice))}
	}
	slices.SortStableFunc(offers, func(a, b api.Offer) int {
		ma, mb := low[a.Cloud], low[b.Cloud]
		return cmp.Or(cmp.Compare(ma.price, mb.price), cmp.Compare(ma.spot, mb.spot), strings.Compare(a.Cloud, b.Cloud),
			compareByPrice(a, b))
	})
}

// compareByPrice orders offers by on-demand price, spot price (none last), count, instance type and region.
func compareByPrice(a, b api.Offer) int {
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
