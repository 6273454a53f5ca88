package cli

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Cell is one table field with an optional style.
type Cell struct {
	Text  string
	Style Style
}

// Styled builds a Cell.
func Styled(text string, st Style) Cell { return Cell{Text: text, Style: st} }

// Table prints rows the way every stix listing does. On a terminal: aligned columns separated by two spaces under
// UPPERCASE headers, with optional colour (SkyPilot's look). Off a terminal: one header line, then one line per
// row, fields separated by tabs and never coloured, so scripts can cut and awk it.
type Table struct {
	io      *IOStreams
	headers []string
	rows    [][]Cell
}

// NewTable starts a table with the given column headers, printed as given: SkyPilot's are upper case with a
// few exceptions ("vCPUs", "COST/hr") that stix keeps.
func NewTable(s *IOStreams, headers ...string) *Table {
	return &Table{io: s, headers: headers}
}

// AddRow appends a row of plain fields. Missing fields print empty; extra fields are dropped.
func (t *Table) AddRow(fields ...string) {
	cells := make([]Cell, len(fields))
	for i, f := range fields {
		cells[i] = Cell{Text: f}
	}
	t.AddCells(cells...)
}

// AddCells appends a row whose fields may carry a style.
func (t *Table) AddCells(cells ...Cell) {
	row := make([]Cell, len(t.headers))
	copy(row, cells)
	t.rows = append(t.rows, row)
}

// Len is the number of rows added so far.
func (t *Table) Len() int { return len(t.rows) }

// Render writes the table to the streams' Out.
func (t *Table) Render() error {
	if t.io.IsStdoutTTY() {
		return t.renderAligned(t.io.Out)
	}
	return t.renderTSV(t.io.Out)
}

func (t *Table) renderTSV(w io.Writer) error {
	var b strings.Builder
	b.WriteString(strings.Join(t.headers, "\t"))
	b.WriteByte('\n')
	for _, row := range t.rows {
		for i, c := range row {
			if i > 0 {
				b.WriteByte('\t')
			}
			b.WriteString(flatten(c.Text))
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (t *Table) renderAligned(w io.Writer) error {
	widths := make([]int, len(t.headers))
	for i, h := range t.headers {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, row := range t.rows {
		for i, c := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(flatten(c.Text)))
		}
	}
	var b strings.Builder
	line := func(cells []Cell) {
		for i, c := range cells {
			text := flatten(c.Text)
			pad := 0
			if i < len(cells)-1 {
				pad = widths[i] - utf8.RuneCountInString(text) + 2
			}
			// Pad after painting so escape codes never count towards the width.
			b.WriteString(t.io.Paint(c.Style, text))
			b.WriteString(strings.Repeat(" ", pad))
		}
		b.WriteByte('\n')
	}
	head := make([]Cell, len(t.headers))
	for i, h := range t.headers {
		head[i] = Cell{Text: h}
	}
	line(head)
	for _, row := range t.rows {
		line(row)
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// flatten keeps one row on one line: tabs and newlines inside a field would break both layouts.
func flatten(s string) string {
	if !strings.ContainsAny(s, "\t\r\n") {
		return s
	}
	return strings.NewReplacer("\t", " ", "\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}
