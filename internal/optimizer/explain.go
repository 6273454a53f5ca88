package optimizer

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cloud"
)

// Explanation says how the optimizer got to its plan (or to no plan), per task.
type Explanation struct {
	Objective Objective
	Tasks     []TaskExplanation
}

// TaskExplanation is one task's side of the story.
type TaskExplanation struct {
	Task    string
	Index   int
	Nodes   int
	Ordered bool
	// Alternative is, for an ordered task, the entry whose offers the search used (-1: none had any).
	Alternative int
	// Considered counts the offers the sources returned; Candidates those left after blocking.
	Considered int
	Candidates int
	// Rejected lists why offers or whole clouds were left out, by cloud and reason, with counts.
	Rejected []Rejection
	// Suggestions are the accelerators (or instance types) the user may have meant, sorted.
	Suggestions []string
	// Hints are sentences on relaxing the request (add "+").
	Hints []string
	// InstanceTypes lists, per cloud and alternative with several fitting instance types, all of them cheapest
	// first; only the first is considered ("Multiple AWS instances satisfy A100:8 ...").
	InstanceTypes []InstanceTypes
	// Rows are the "Considered resources" table: the best offer per (cloud, accelerators, spot) group, the
	// chosen one in its group, cheapest first (for an ordered task: by entry, then cost).
	Rows []Row
	// Chosen is the offer the plan took (zero when there is no plan).
	Chosen cloud.Offer

	candidates []candidate
}

// Rejection is a reason offers or a whole cloud were left out. Count is how many times it applied: offers for
// blocking, alternatives for a cloud's own refusal.
type Rejection struct {
	Cloud  string
	Reason string
	Count  int
}

// InstanceTypes are the instance types of one cloud that fit one alternative.
type InstanceTypes struct {
	Cloud       string
	Alternative int
	Types       []string
}

// Row is one line of SkyPilot's "Considered resources" table.
type Row struct {
	Cloud        string
	Region       string
	Zone         string
	InstanceType string
	Spot         bool
	VCPUs        float64 // 0: unknown
	MemoryGB     float64 // 0: unknown
	Accelerators string  // "A100:8", or "-"
	// AcceleratorCounts are the offer's accelerators per node by name (nil: none).
	AcceleratorCounts map[string]float64
	Nodes             int
	// Cost is USD per hour for all the task's nodes (HourlyPrice × nodes); Hours the estimated run time.
	Cost        float64
	Hours       float64
	Chosen      bool
	Alternative int
}

// Infra writes the row's place as SkyPilot does: "AWS (us-east-1)", the zone when there is one.
func (r Row) Infra() string { return catalog.PlaceName(r.Cloud, r.Region, r.Zone) }

// Instance writes the instance type with SkyPilot's "[Spot]" suffix, or "-" when the infra has none.
func (r Row) Instance() string {
	it := r.InstanceType
	if it == "" {
		it = "-"
	}
	if r.Spot {
		it += "[Spot]"
	}
	return it
}

// Cells renders the row as the table's columns INFRA, INSTANCE, vCPUs, Mem(GB), GPUS, COST ($) (or TIME (hr)
// for the time objective) and CHOSEN, formatted as SkyPilot formats them.
func (r Row) Cells(objective Objective) []string {
	value := r.Cost
	if objective == Time {
		value = r.Hours
	}
	chosen := ""
	if r.Chosen {
		chosen = "   \u2714"
	}
	return []string{r.Infra(), r.Instance(), fmtCount(r.VCPUs), fmtCount(r.MemoryGB), r.Accelerators,
		strconv.FormatFloat(value, 'f', 2, 64), chosen}
}

// TableHeader is the "Considered resources" table's header for an objective.
func TableHeader(objective Objective) []string {
	metric := "COST ($)"
	if objective == Time {
		metric = "TIME (hr)"
	}
	return []string{"INFRA", "INSTANCE", "vCPUs", "Mem(GB)", "GPUS", metric, "CHOSEN"}
}

// fmtCount writes vCPUs or memory as SkyPilot does: integers plainly, others to one decimal, unknown as "-".
func fmtCount(x float64) string {
	switch {
	case x == 0:
		return "-"
	case x == math.Trunc(x):
		return strconv.FormatFloat(x, 'f', 0, 64)
	default:
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
}

// accString writes an offer's accelerators as "A100:8" ("-" for none).
func accString(o cloud.Offer) string {
	if len(o.Accelerators) == 0 {
		return "-"
	}
	names := make([]string, 0, len(o.Accelerators))
	for n := range o.Accelerators {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + ":" + strconv.FormatFloat(o.Accelerators[n], 'f', -1, 64)
	}
	return strings.Join(parts, ", ")
}

// groupKey is SkyPilot's grouping of the table: one row per cloud, accelerators and spot; the user's own
// clusters (Kubernetes contexts, SSH node pools, Slurm clusters: offers whose region is a cluster) are kept
// apart.
func groupKey(o cloud.Offer) string {
	k := struct {
		Cloud, Acc, Region string
		Spot               bool
	}{strings.ToLower(o.Cloud), accString(o), "", o.Spot}
	if o.RegionIsCluster {
		k.Region = o.Region
	}
	b, _ := json.Marshal(k)
	return string(b)
}

// tableRows builds the "Considered resources" rows of a task from all its candidates.
func tableRows(t *Task, all []candidate, chosen Assignment) []Row {
	best := map[string]*candidate{}
	var keys []string
	for i := range all {
		c := &all[i]
		k := groupKey(c.offer)
		if b, ok := best[k]; !ok {
			best[k] = c
			keys = append(keys, k)
		} else if lessCandidate(c, b) {
			best[k] = c
		}
	}
	// The chosen offer shows in its group even when the whole plan (egress) made it not the group's cheapest.
	ck := groupKey(chosen.Offer)
	if _, ok := best[ck]; !ok {
		keys = append(keys, ck)
	}
	best[ck] = &candidate{offer: chosen.Offer, alt: chosen.Alternative, cost: chosen.Cost}
	rows := make([]Row, 0, len(keys))
	for _, k := range keys {
		c := best[k]
		o := c.offer
		rows = append(rows, Row{
			Cloud: o.Cloud, Region: o.Region, Zone: o.Zone, InstanceType: o.InstanceType, Spot: o.Spot,
			VCPUs: o.CPUs, MemoryGB: o.MemoryGB, Accelerators: accString(o), AcceleratorCounts: o.Accelerators,
			Nodes: t.Nodes, Cost: c.cost * HoursPerTask,
			Hours: HoursPerTask, Chosen: k == ck, Alternative: c.alt,
		})
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := &rows[i], &rows[j]
		if t.Ordered && a.Alternative != b.Alternative {
			return a.Alternative < b.Alternative
		}
		if a.Cost != b.Cost {
			return a.Cost < b.Cost
		}
		return compareOffers(&cloud.Offer{Cloud: a.Cloud, Region: a.Region, Zone: a.Zone, InstanceType: a.InstanceType, Spot: a.Spot},
			&cloud.Offer{Cloud: b.Cloud, Region: b.Region, Zone: b.Zone, InstanceType: b.InstanceType, Spot: b.Spot}) < 0
	})
	return rows
}

// NoResourcesError says that a task has no feasible offer anywhere, and why.
type NoResourcesError struct {
	Task        string
	Index       int
	Explanation TaskExplanation
}

func (e *NoResourcesError) Error() string {
	var b strings.Builder
	ex := &e.Explanation
	plural := ""
	if ex.Nodes > 1 {
		plural = "s"
	}
	fmt.Fprintf(&b, "no resources satisfy task %s (%d node%s)", e.Task, ex.Nodes, plural)
	if len(ex.Rejected) > 0 {
		b.WriteString(":")
		for _, r := range ex.Rejected {
			who := catalog.DisplayName(r.Cloud)
			if r.Cloud == "-" {
				who = "any infra"
			}
			fmt.Fprintf(&b, "\n  %s: %s", who, r.Reason)
			if r.Count > 1 {
				fmt.Fprintf(&b, " (x%d)", r.Count)
			}
		}
	}
	b.WriteString("\nTo fix: relax or change the resource requirements.")
	if len(ex.Suggestions) > 0 {
		fmt.Fprintf(&b, "\nDid you mean: %s", strings.Join(ex.Suggestions, ", "))
	}
	for _, h := range ex.Hints {
		b.WriteString("\n" + h)
	}
	b.WriteString("\nHint: `stix show-gpus` lists the available accelerators; `stix check` shows the enabled infra.")
	return b.String()
}
