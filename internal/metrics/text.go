package metrics

import (
	"bufio"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// ContentType is the media type of the text exposition format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// WriteText writes every family in the text exposition format: families sorted by name, each with its HELP
// and TYPE lines, then its samples.
func (r *Registry) WriteText(w io.Writer) error {
	r.mu.Lock()
	fs := make([]family, 0, len(r.families))
	for _, f := range r.families {
		fs = append(fs, f)
	}
	r.mu.Unlock()
	slices.SortFunc(fs, func(a, b family) int {
		an, _, _ := a.header()
		bn, _, _ := b.header()
		return strings.Compare(an, bn)
	})
	bw := bufio.NewWriter(w)
	for _, f := range fs {
		name, help, kind := f.header()
		bw.WriteString("# HELP " + name + " " + escape(help, false) + "\n")
		bw.WriteString("# TYPE " + name + " " + kind + "\n")
		f.collect(func(suffix string, labels []labelPair, v float64) {
			bw.WriteString(name + suffix)
			if len(labels) > 0 {
				bw.WriteByte('{')
				for i, l := range labels {
					if i > 0 {
						bw.WriteByte(',')
					}
					bw.WriteString(l.name + `="` + escape(l.value, true) + `"`)
				}
				bw.WriteByte('}')
			}
			bw.WriteString(" " + formatFloat(v) + "\n")
		})
	}
	return bw.Flush()
}

// Handler serves the registry's families (GET /metrics).
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ContentType)
		w.Header().Set("Cache-Control", "no-cache")
		_ = r.WriteText(w)
	})
}

// escape applies the format's escapes: in HELP text a backslash and a line feed; in label values (quote) a
// double quote too. (No strings.Replacer at package level: it would be built at every stix command's start.)
func escape(s string, quote bool) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if !strings.ContainsAny(s, "\\\n\"") {
		return s
	}
	var b strings.Builder
	for _, c := range []byte(s) {
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '"' && quote:
			b.WriteString(`\"`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// formatFloat writes a sample value or bucket bound as the format spells it: +Inf, -Inf, NaN, or Go's shortest
// representation.
func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
