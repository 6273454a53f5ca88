package cli

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/stix-run/stix/api"
)

// PrintPlan writes SkyPilot's "Considered resources (N nodes):" table for each task of a plan, the chosen row
// marked ✔, between dashed rules as SkyPilot draws it (the same on and off a terminal: it is a report).
func PrintPlan(s *IOStreams, p *api.Plan) {
	for _, t := range p.Tasks {
		nodes := "1 node"
		if t.Nodes > 1 {
			nodes = fmt.Sprintf("%d nodes", t.Nodes)
		}
		if len(p.Tasks) > 1 {
			fmt.Fprintf(s.Out, "Task %s: ", t.Name)
		}
		fmt.Fprintf(s.Out, "Considered resources (%s):\n", nodes)
		rows := [][]string{p.Header}
		for _, r := range t.Rows {
			rows = append(rows, r.Cells)
		}
		width := make([]int, len(p.Header))
		for _, r := range rows {
			for i, c := range r {
				width[i] = max(width[i], utf8.RuneCountInString(c))
			}
		}
		var lines []string
		for _, r := range rows {
			var b strings.Builder
			for i, c := range r {
				b.WriteString(" " + c + strings.Repeat(" ", width[i]-utf8.RuneCountInString(c)) + "  ")
			}
			lines = append(lines, strings.TrimRight(b.String(), " "))
		}
		rule := strings.Repeat("-", maxLen(lines)+1)
		fmt.Fprintln(s.Out, rule)
		fmt.Fprintln(s.Out, lines[0])
		fmt.Fprintln(s.Out, rule)
		for _, l := range lines[1:] {
			fmt.Fprintln(s.Out, l)
		}
		fmt.Fprintln(s.Out, rule)
	}
}

func maxLen(lines []string) int {
	n := 0
	for _, l := range lines {
		n = max(n, utf8.RuneCountInString(l))
	}
	return n
}
