package showgpus

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cli"
)

// commonGPUs and googleTPUs are SkyPilot's fixed lists for the first two tables of `show-gpus`
// (sky.catalog.get_common_gpus and get_tpus); every other accelerator goes to OTHER_GPU, shown with -a.
var (
	commonGPUs = []string{"A10", "A10G", "A100", "A100-80GB", "B200", "H100", "H200", "L4", "L40S", "T4", "V100",
		"V100-32GB"}
	googleTPUs = []string{"tpu-v2-8", "tpu-v3-8", "tpu-v4-8", "tpu-v4-16", "tpu-v4-32", "tpu-v5litepod-1",
		"tpu-v5litepod-4", "tpu-v5litepod-8", "tpu-v5p-8", "tpu-v5p-16", "tpu-v5p-32", "tpu-v6e-1", "tpu-v6e-4",
		"tpu-v6e-8"}
)

// The groups of the listing, as its tables' first headers.
const (
	groupCommon = "COMMON_GPU"
	groupTPU    = "GOOGLE_TPU"
	groupOther  = "OTHER_GPU"
)

// AcceleratorCounts is one row of the listing: an accelerator and the counts in which some cloud in scope
// offers it (each count launchable, i.e. the catalog prices an instance for it). It is also the -o json form.
type AcceleratorCounts struct {
	Name   string    `json:"name"`
	Group  string    `json:"group"` // COMMON_GPU, GOOGLE_TPU or OTHER_GPU
	Counts []float64 `json:"counts"`
	Clouds []string  `json:"clouds"`
}

// listAccelerators prints SkyPilot's COMMON_GPU and GOOGLE_TPU tables (and OTHER_GPU with -a).
func listAccelerators(opts *ShowGPUsOptions, sc *scope) error {
	byName := map[string]*AcceleratorCounts{}
	inScope := map[string]*catalog.Cloud{}
	for _, c := range sc.clouds {
		inScope[c.Name()] = c
	}
	for _, ai := range sc.cat.Accelerators() {
		row := &AcceleratorCounts{Name: ai.Name, Group: groupOf(ai.Name)}
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
		return fmt.Errorf("no accelerator is offered%s", sc.where())
	}

	var rows []AcceleratorCounts
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
	if opts.All {
		var rest []string
		for _, r := range byName {
			rest = append(rest, r.Name)
		}
		slices.SortFunc(rest, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
		take(rest)
	}
	return opts.Output.Write(opts.IO, rows, func() error {
		first := true
		for _, group := range []string{groupCommon, groupTPU, groupOther} {
			t := cli.NewTable(opts.IO, group, "AVAILABLE_QUANTITIES")
			for _, r := range rows {
				if r.Group == group {
					t.AddRow(r.Name, joinCounts(r.Counts))
				}
			}
			if t.Len() == 0 {
				continue
			}
			if !first {
				fmt.Fprintln(opts.IO.Out)
			}
			first = false
			if err := t.Render(); err != nil {
				return err
			}
		}
		if !opts.All {
			fmt.Fprintln(opts.IO.ErrOut, "\nHint: use -a/--all to see all accelerators (including non-common ones).")
		}
		return nil
	})
}

// groupOf puts an accelerator in its table.
func groupOf(name string) string {
	switch {
	case containsFold(commonGPUs, name):
		return groupCommon
	case containsFold(googleTPUs, name):
		return groupTPU
	}
	return groupOther
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

// joinCounts writes counts as SkyPilot does: "1, 2, 4, 8".
func joinCounts(counts []float64) string {
	s := make([]string, len(counts))
	for i, n := range counts {
		s[i] = formatCount(n)
	}
	return strings.Join(s, ", ")
}

// formatCount writes a count without a needless fraction: 8, 0.5.
func formatCount(n float64) string { return strconv.FormatFloat(n, 'f', -1, 64) }
