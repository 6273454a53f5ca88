package dashboard

import (
	"cmp"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"

	"github.com/stix-run/stix/api"
)

// chartBars is how many clusters the cost chart shows: the costliest, the rest summed in one bar.
const chartBars = 15

// costs is the cost report (`stix cost-report`): the caller's clusters (an admin: everyone's), live and torn
// down, with what they cost so far, as a table and a bar chart drawn on the server as SVG.
func (h *Handler) costs(w http.ResponseWriter, r *http.Request) {
	report, err := h.opts.Backend.CostReport(r.Context())
	if err != nil {
		h.backendError(w, r, err, Prefix+"/clusters", "the clusters")
		return
	}
	q := readListQuery(r, "cost", true)
	rows := make([]*api.CostReportEntry, 0, len(report))
	var total float64
	for i := range report {
		rows = append(rows, &report[i])
		total += report[i].TotalCost
	}
	by := map[string]func(a, b *api.CostReportEntry) int{
		"name":     func(a, b *api.CostReportEntry) int { return strings.Compare(a.Name, b.Name) },
		"status":   func(a, b *api.CostReportEntry) int { return strings.Compare(a.Status, b.Status) },
		"launched": func(a, b *api.CostReportEntry) int { return a.LaunchedAt.Compare(b.LaunchedAt) },
		"duration": func(a, b *api.CostReportEntry) int { return cmp.Compare(a.Duration, b.Duration) },
		"cost":     func(a, b *api.CostReportEntry) int { return cmp.Compare(a.TotalCost, b.TotalCost) },
	}
	tie := func(a, b *api.CostReportEntry) int { return strings.Compare(a.Name, b.Name) }
	byCost := slices.Clone(rows)
	sortRows(byCost, by, listQuery{Sort: "cost", Desc: true}, tie)
	sortRows(rows, by, q, tie)
	shown, pg := paginate(rows, q)
	h.render(w, r, http.StatusOK, "costs", page{Title: "Cost report", Nav: "costs", Data: map[string]any{
		"Rows": shown, "Pager": pg, "Query": q, "Total": total, "Chart": costChart(byCost)}})
}

// costChart draws the costliest clusters (rows sorted by cost, most first) as horizontal bars: plain SVG, no
// script, with a title and a text label on every bar for screen readers and print.
func costChart(rows []*api.CostReportEntry) template.HTML {
	type bar struct {
		label string
		cost  float64
	}
	var bars []bar
	for i, e := range rows {
		if i == chartBars-1 && len(rows) > chartBars {
			var rest float64
			for _, o := range rows[i:] {
				rest += o.TotalCost
			}
			bars = append(bars, bar{fmt.Sprintf("%d others", len(rows)-i), rest})
			break
		}
		bars = append(bars, bar{e.Name, e.TotalCost})
	}
	if len(bars) == 0 {
		return ""
	}
	top := bars[0].cost
	for _, b := range bars {
		top = max(top, b.cost)
	}
	const (
		width, labelW, valueW, rowH = 640, 160, 90, 24
	)
	barW := float64(width - labelW - valueW)
	height := len(bars)*rowH + 4
	var s strings.Builder
	fmt.Fprintf(&s, `<svg id="cost-chart" role="img" aria-labelledby="cost-chart-t" viewBox="0 0 %d %d" width="100%%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">`, width, height)
	fmt.Fprintf(&s, `<title id="cost-chart-t">Cost so far of the %d costliest clusters</title>`, len(bars))
	for i, b := range bars {
		y := i*rowH + 2
		wdt := 0.0
		if top > 0 {
			wdt = barW * b.cost / top
		}
		name := template.HTMLEscapeString(b.label)
		fmt.Fprintf(&s, `<g class="bar"><text x="%d" y="%d" text-anchor="end" class="label">%s</text>`, labelW-6, y+16, name)
		fmt.Fprintf(&s, `<rect x="%d" y="%d" width="%.1f" height="%d"><title>%s: $%.2f</title></rect>`, labelW, y+3, wdt, rowH-6, name, b.cost)
		fmt.Fprintf(&s, `<text x="%.1f" y="%d" class="value">$%.2f</text></g>`, float64(labelW)+wdt+6, y+16, b.cost)
	}
	s.WriteString(`</svg>`)
	return template.HTML(s.String()) // every text in it is escaped above
}
