package catalog

import (
	"sort"
	"strings"
)

// editDistance is the Levenshtein distance between a and b, compared case-insensitively.
func editDistance(a, b string) int {
	a, b = strings.ToLower(a), strings.ToLower(b)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// closest returns up to n candidates near s: case-insensitive equals first, then by edit distance within a
// third of the longer name (at least 1, at most 3), ties by name.
func closest(s string, candidates []string, n int) []string {
	type scored struct {
		name string
		d    int
	}
	var hits []scored
	for _, c := range candidates {
		if c == s {
			continue
		}
		limit := min(max(max(len(s), len(c))/3, 1), 3)
		d := editDistance(s, c)
		if d <= limit {
			hits = append(hits, scored{c, d})
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].d != hits[j].d {
			return hits[i].d < hits[j].d
		}
		return hits[i].name < hits[j].name
	})
	var out []string
	for _, h := range hits {
		if len(out) == n {
			break
		}
		out = append(out, h.name)
	}
	return out
}

// SuggestAccelerators returns accelerator names the user may have meant by name, from every loaded cloud and
// common/accelerators.csv: same name in another case, names within a small edit distance, and names that
// contain it ("A100" -> "A100-80GB"), closest first.
func (cat *Catalog) SuggestAccelerators(name string) []string {
	known := map[string]bool{}
	for _, c := range cat.clouds {
		for _, n := range c.accNames {
			known[n] = true
		}
	}
	for n := range cat.accelerators {
		known[n] = true
	}
	return suggestNames(name, sortedKeys(known))
}

// suggestNames ranks known names against an unknown one (see SuggestAccelerators).
func suggestNames(name string, known []string) []string {
	out := closest(name, known, 5)
	seen := map[string]bool{}
	for _, n := range out {
		seen[n] = true
	}
	l := strings.ToLower(name)
	for _, n := range known {
		if len(out) >= 8 {
			break
		}
		if !seen[n] && n != name && l != "" && strings.Contains(strings.ToLower(n), l) {
			out = append(out, n)
			seen[n] = true
		}
	}
	return out
}
