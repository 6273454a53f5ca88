package catalog

import (
	"fmt"
	"strings"
)

// csvReader splits a whole CSV file held in memory into records. It is a hand-written splitter rather than
// encoding/csv because catalog loading is on the path of every launch: fields are substrings of the file (no
// allocation unless a field holds an escaped quote), and it accepts both LF and CRLF line ends, as SkyPilot's
// catalog files come with either.
type csvReader struct {
	file string // for messages: "aws/vms.csv"
	data string
	pos  int
	line int // line number of the record last returned (1-based)
	next int // line number where the next record starts
	buf  []string
}

func newCSVReader(file, data string) *csvReader {
	// A UTF-8 byte-order mark would otherwise become part of the first column's name.
	data = strings.TrimPrefix(data, "\ufeff")
	return &csvReader{file: file, data: data, next: 1}
}

// errorf formats an error that names the file and the current record's line.
func (r *csvReader) errorf(format string, args ...any) error {
	return &FileError{File: r.file, Line: r.line, Msg: fmt.Sprintf(format, args...)}
}

// Read returns the next record, or ok=false at the end of the file. Blank lines are skipped. The returned slice
// is reused by the next call.
func (r *csvReader) Read() (rec []string, ok bool, err error) {
	d := r.data
	for {
		if r.pos >= len(d) {
			return nil, false, nil
		}
		// Skip blank lines ("\n" or "\r\n").
		if d[r.pos] == '\n' {
			r.pos++
			r.next++
			continue
		}
		if d[r.pos] == '\r' && r.pos+1 < len(d) && d[r.pos+1] == '\n' {
			r.pos += 2
			r.next++
			continue
		}
		break
	}
	r.line = r.next
	rec = r.buf[:0]
	for {
		field, err := r.field()
		if err != nil {
			return nil, false, err
		}
		rec = append(rec, field)
		if r.pos >= len(d) {
			break
		}
		c := d[r.pos]
		if c == ',' {
			r.pos++
			if r.pos >= len(d) { // trailing comma at end of file: one more empty field
				rec = append(rec, "")
				break
			}
			continue
		}
		// End of record.
		if c == '\r' {
			r.pos++
		}
		if r.pos < len(d) && d[r.pos] == '\n' {
			r.pos++
		}
		r.next++
		break
	}
	r.buf = rec
	return rec, true, nil
}

// field reads one field starting at r.pos and leaves r.pos on the delimiter that ends it (',', '\r', '\n' or
// the end of the data).
func (r *csvReader) field() (string, error) {
	d := r.data
	start := r.pos
	if start < len(d) && d[start] == '"' {
		return r.quoted()
	}
	i := start
	for i < len(d) {
		c := d[i]
		if c == ',' || c == '\n' {
			break
		}
		if c == '\r' && (i+1 >= len(d) || d[i+1] == '\n') {
			break
		}
		if c == '"' {
			r.pos = i
			return "", r.errorf("unexpected quote in an unquoted field %q", clip(d[start:lineEnd(d, i)]))
		}
		i++
	}
	r.pos = i
	return d[start:i], nil
}

// quoted reads a quoted field: "..." with "" standing for one quote; it may span lines.
func (r *csvReader) quoted() (string, error) {
	d := r.data
	i := r.pos + 1
	start := i
	var b *strings.Builder
	for {
		j := strings.IndexByte(d[i:], '"')
		if j < 0 {
			return "", r.errorf("unterminated quoted field (file truncated or corrupted?)")
		}
		j += i
		if j+1 < len(d) && d[j+1] == '"' {
			if b == nil {
				b = &strings.Builder{}
			}
			b.WriteString(d[i : j+1])
			i = j + 2
			continue
		}
		// Closing quote: what follows must end the field.
		r.next += strings.Count(d[start:j], "\n")
		r.pos = j + 1
		if r.pos < len(d) {
			c := d[r.pos]
			if c != ',' && c != '\n' && c != '\r' {
				return "", r.errorf("unexpected text %q after a closing quote", clip(d[r.pos:lineEnd(d, r.pos)]))
			}
		}
		if b == nil {
			return d[start:j], nil
		}
		b.WriteString(d[i:j])
		return b.String(), nil
	}
}

func lineEnd(d string, i int) int {
	if j := strings.IndexByte(d[i:], '\n'); j >= 0 {
		return i + j
	}
	return len(d)
}

// clip shortens text quoted in an error message.
func clip(s string) string {
	s = strings.TrimRight(s, "\r")
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// FileError is a problem in a catalog file, with the file (relative to the catalog directory, e.g.
// "aws/vms.csv") and the 1-based line where it was found.
type FileError struct {
	File string
	Line int
	Msg  string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("catalog %s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("catalog %s: %s", e.File, e.Msg)
}
