package optimizer

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cloud"
)

// candidate is one offer a task may take.
type candidate struct {
	offer cloud.Offer
	alt   int
	cost  float64 // HourlyPrice × nodes
}

// lessCandidate is the deterministic order of candidates: cheaper first, then earlier alternative, then the tie
// rule of compareOffers.
func lessCandidate(a, b *candidate) bool {
	if a.cost != b.cost {
		return a.cost < b.cost
	}
	if a.alt != b.alt {
		return a.alt < b.alt
	}
	if c := compareOffers(&a.offer, &b.offer); c != 0 {
		return c < 0
	}
	return false
}

// compareOffers is the tie rule between offers of equal cost (docs/optimizer.md#tie-breaks-deterministic): cloud by name, region as
// SkyPilot tries them (catalog.CompareRegions: US regions first on AWS, Lambda and Hyperbolic), zone and
// instance type by name, on-demand before spot.
func compareOffers(a, b *cloud.Offer) int {
	if a.Cloud != b.Cloud {
		return strings.Compare(a.Cloud, b.Cloud)
	}
	if c := catalog.CompareRegions(a.Cloud, a.Region, b.Region); c != 0 {
		return c
	}
	if c := strings.Compare(a.Zone, b.Zone); c != 0 {
		return c
	}
	if c := strings.Compare(a.InstanceType, b.InstanceType); c != 0 {
		return c
	}
	switch {
	case a.Spot == b.Spot:
		return 0
	case b.Spot:
		return -1
	default:
		return 1
	}
}

// gathered is one task's candidates: all of them (for the explanation) and those the search may choose.
type gathered struct {
	chosen      []candidate
	explanation TaskExplanation
}

// gather asks every eligible source for every alternative of task i, drops blocked offers, and picks the
// alternatives the search may use: all of them, or with Ordered the first one that has any offer.
func gather(p *Problem, i int) (gathered, error) {
	t := &p.Tasks[i]
	ex := TaskExplanation{Task: taskLabel(t, i), Index: i, Nodes: t.Nodes, Ordered: t.Ordered, Alternative: -1}
	rej := map[[2]string]int{}
	reject := func(cloudName, reason string, n int) { rej[[2]string{cloudName, reason}] += n }
	var all []candidate
	firstWithOffers := -1
	if len(t.Alternatives) == 0 {
		reject("-", "the task lists no resources to choose from", 1)
	}
	for ai := range t.Alternatives {
		alt := &t.Alternatives[ai]
		if alt.Unmet != "" {
			reject(orAny(alt.Cloud), alt.Unmet, 1)
			continue
		}
		req := alt.Req
		req.NumNodes = t.Nodes
		sources := eligible(p, alt.Cloud)
		if len(sources) == 0 {
			if alt.Cloud != "" {
				reject(alt.Cloud, fmt.Sprintf("%s is not enabled: no credentials or catalog for it", catalog.DisplayName(alt.Cloud)), 1)
			} else {
				reject("-", "no infra is enabled", 1)
			}
			continue
		}
		n0 := len(all)
		for _, s := range sources {
			offers, err := s.Feasible(req)
			if err != nil {
				var inf *cloud.InfeasibleError
				if alt.Cloud != "" && !errors.As(err, &inf) {
					// The task names this infra and the infra rejects the request itself (an unknown region,
					// say): that is the user's error to fix, not a reason to look elsewhere.
					return gathered{explanation: ex}, fmt.Errorf("task %s: %s: %w", ex.Task, catalog.DisplayName(s.Name()), err)
				}
				for _, r := range reasons(err) {
					reject(s.Name(), r, 1)
				}
				ex.Suggestions = appendNew(ex.Suggestions, didYouMean(err)...)
				ex.Hints = appendNew(ex.Hints, fixHints(err)...)
				continue
			}
			ex.Considered += len(offers)
			var usable []cloud.Offer
			for _, o := range offers {
				if math.IsNaN(o.HourlyPrice) || math.IsInf(o.HourlyPrice, 0) || o.HourlyPrice < 0 {
					reject(s.Name(), "offer without a valid price", 1)
					continue
				}
				if sc, ok := blockedBy(p.Blocked, o); ok {
					reject(o.Cloud, "blocked: "+sc.String(), 1)
					continue
				}
				if len(alt.Regions) > 0 && !slices.Contains(alt.Regions, o.Region) {
					reject(o.Cloud, "no image_id given for the region", 1)
					continue
				}
				if s.free {
					o.HourlyPrice = 0 // the user's own infra: whatever it reports, it costs nothing more
				}
				usable = append(usable, o)
			}
			kept, types := cheapestType(usable)
			if len(types) > 1 {
				ex.InstanceTypes = append(ex.InstanceTypes, InstanceTypes{Cloud: s.Name(), Alternative: ai, Types: types})
			}
			for _, o := range kept {
				all = append(all, candidate{offer: o, alt: ai, cost: o.HourlyPrice * float64(t.Nodes)})
			}
		}
		if firstWithOffers < 0 && len(all) > n0 {
			firstWithOffers = ai
		}
	}
	sort.SliceStable(all, func(a, b int) bool { return lessCandidate(&all[a], &all[b]) })
	ex.candidates = all
	ex.Candidates = len(all)
	ex.Rejected = rejections(rej)
	sort.Strings(ex.Suggestions)
	g := gathered{explanation: ex}
	if !t.Ordered {
		g.chosen = all
		return g, nil
	}
	g.explanation.Alternative = firstWithOffers
	for _, c := range all {
		if c.alt == firstWithOffers {
			g.chosen = append(g.chosen, c)
		}
	}
	return g, nil
}

// cheapestType keeps the offers of the cheapest instance type (with its accelerators) and lists every fitting
// type, cheapest first. SkyPilot considers only a cloud's cheapest fitting instance type, in all its regions
// and zones; stix picks that type after blocking, so a blocked type does not hide the cloud's next one.
func cheapestType(offers []cloud.Offer) ([]cloud.Offer, []string) {
	type typeKey struct{ it, acc string }
	var order []typeKey
	low := map[typeKey]float64{}
	for _, o := range offers {
		k := typeKey{o.InstanceType, accString(o)}
		if p, ok := low[k]; !ok {
			order = append(order, k)
			low[k] = o.HourlyPrice
		} else if o.HourlyPrice < p {
			low[k] = o.HourlyPrice
		}
	}
	if len(order) == 0 {
		return nil, nil
	}
	sort.SliceStable(order, func(i, j int) bool {
		if low[order[i]] != low[order[j]] {
			return low[order[i]] < low[order[j]]
		}
		return order[i].it < order[j].it
	})
	var kept []cloud.Offer
	for _, o := range offers {
		if (typeKey{o.InstanceType, accString(o)}) == order[0] {
			kept = append(kept, o)
		}
	}
	types := make([]string, len(order))
	for i, k := range order {
		types[i] = k.it
	}
	return kept, types
}

// source is an eligible source and whether it is free infra.
type source struct {
	Source
	free bool
}

// eligible returns the sources an alternative may use: the named one, or every paid source plus the free ones
// when the problem allows them.
func eligible(p *Problem, cloudName string) []source {
	var out []source
	add := func(srcs []Source, free bool) {
		for _, s := range srcs {
			if cloudName == "" || strings.EqualFold(s.Name(), cloudName) {
				out = append(out, source{s, free})
			}
		}
	}
	add(p.Sources, false)
	if cloudName != "" || p.UseFree {
		add(p.Free, true)
	}
	return out
}

func blockedBy(blocked []cloud.Scope, o cloud.Offer) (cloud.Scope, bool) {
	for _, b := range blocked {
		if b.Covers(o.Cloud, o.Region, o.Zone) {
			return b, true
		}
	}
	return cloud.Scope{}, false
}

// reasons turns a source's error into user-facing sentences.
func reasons(err error) []string {
	var inf *cloud.InfeasibleError
	if errors.As(err, &inf) && len(inf.Reasons) > 0 {
		return inf.Reasons
	}
	return []string{err.Error()}
}

func didYouMean(err error) []string {
	var s interface{ DidYouMean() []string }
	if errors.As(err, &s) {
		return s.DidYouMean()
	}
	return nil
}

func fixHints(err error) []string {
	var s interface{ FixHints() []string }
	if errors.As(err, &s) {
		return s.FixHints()
	}
	return nil
}

func appendNew(dst []string, items ...string) []string {
	for _, it := range items {
		if !slices.Contains(dst, it) {
			dst = append(dst, it)
		}
	}
	return dst
}

func orAny(cloudName string) string {
	if cloudName == "" {
		return "-"
	}
	return cloudName
}

// rejections sorts the (cloud, reason) counts by cloud, then reason.
func rejections(m map[[2]string]int) []Rejection {
	out := make([]Rejection, 0, len(m))
	for k, n := range m {
		out = append(out, Rejection{Cloud: k[0], Reason: k[1], Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Cloud != out[j].Cloud {
			return out[i].Cloud < out[j].Cloud
		}
		return out[i].Reason < out[j].Reason
	})
	return out
}
