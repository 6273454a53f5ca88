package spec

import (
	"math"
	"strconv"
	"strings"

	"github.com/stix-run/stix/internal/lazyregexp"
)

// value is one YAML value with its position, after alias and merge-key resolution and with plain scalars typed by
// YAML 1.1 rules, as PyYAML (and so SkyPilot) types them: `yes` is a boolean, `0755` is octal, `1e3` is a string.
// The schema validator sees it through toAny; the decoder reads it directly so that every error keeps a position.
type value struct {
	kind   valueKind
	line   int
	col    int
	b      bool
	i      int64
	f      float64
	s      string   // string value, or the source text of a non-string scalar (for messages)
	size   int      // number of values in this subtree, aliases expanded (bounds alias bombs)
	fields []field  // kindMap, in document order
	items  []*value // kindList
}

type valueKind uint8

const (
	kindNull valueKind = iota
	kindBool
	kindInt
	kindFloat
	kindString
	kindMap
	kindList
)

// field is one key of a mapping.
type field struct {
	key     string
	keyLine int
	keyCol  int
	val     *value
}

// get returns the value of key in a mapping, or nil.
func (v *value) get(key string) *value {
	if f := v.field(key); f != nil {
		return f.val
	}
	return nil
}

// field returns the field named key of a mapping, or nil.
func (v *value) field(key string) *field {
	if v == nil || v.kind != kindMap {
		return nil
	}
	for i := range v.fields {
		if v.fields[i].key == key {
			return &v.fields[i]
		}
	}
	return nil
}

// isNull reports whether v is absent or YAML null.
func (v *value) isNull() bool { return v == nil || v.kind == kindNull }

// str returns a string value and whether v is one.
func (v *value) str() (string, bool) {
	if v == nil || v.kind != kindString {
		return "", false
	}
	return v.s, true
}

// number returns a numeric value as float64 and whether v is a number.
func (v *value) number() (float64, bool) {
	switch {
	case v == nil:
		return 0, false
	case v.kind == kindInt:
		return float64(v.i), true
	case v.kind == kindFloat:
		return v.f, true
	}
	return 0, false
}

// integer returns an integer value, accepting integral floats as JSON Schema does.
func (v *value) integer() (int64, bool) {
	switch {
	case v == nil:
		return 0, false
	case v.kind == kindInt:
		return v.i, true
	case v.kind == kindFloat && v.f == math.Trunc(v.f) && math.Abs(v.f) < 1<<53:
		return int64(v.f), true
	}
	return 0, false
}

// pyString renders a scalar as Python's str() renders what PyYAML loaded: SkyPilot stringifies env values and
// cpus/memory this way, so `1.10` becomes "1.1" and `true` becomes "True".
func (v *value) pyString() string {
	switch v.kind {
	case kindNull:
		return "None"
	case kindBool:
		if v.b {
			return "True"
		}
		return "False"
	case kindInt:
		return strconv.FormatInt(v.i, 10)
	case kindFloat:
		return pyFloat(v.f)
	default:
		return v.s
	}
}

// describe names what was found, for "expected X, found Y" messages.
func (v *value) describe() string {
	if v == nil {
		return "nothing"
	}
	switch v.kind {
	case kindNull:
		return "null"
	case kindBool:
		return "boolean " + strconv.FormatBool(v.b)
	case kindInt:
		return "integer " + v.s
	case kindFloat:
		return "number " + v.s
	case kindString:
		return "string " + quoteShort(v.s)
	case kindMap:
		return "a mapping"
	default:
		return "a list"
	}
}

// quoteShort quotes s for a message, cutting long text.
func quoteShort(s string) string {
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return strconv.Quote(s)
}

// toAny converts v to the plain Go values the JSON Schema validator takes. Non-finite floats become strings:
// JSON has no such numbers, and the validator could not compare them.
func (v *value) toAny() any {
	switch v.kind {
	case kindNull:
		return nil
	case kindBool:
		return v.b
	case kindInt:
		return v.i
	case kindFloat:
		if math.IsNaN(v.f) || math.IsInf(v.f, 0) {
			return v.s
		}
		return v.f
	case kindString:
		return v.s
	case kindMap:
		m := make(map[string]any, len(v.fields))
		for _, f := range v.fields {
			m[f.key] = f.val.toAny()
		}
		return m
	default:
		l := make([]any, len(v.items))
		for i, it := range v.items {
			l[i] = it.toAny()
		}
		return l
	}
}

// at follows a JSON Schema instance location (keys and list indexes) from v. It returns the deepest value reached
// and, when the last step was a mapping key, that field (so that errors about a key point at the key).
func (v *value) at(loc []string) (*value, *field) {
	cur := v
	var last *field
	for _, step := range loc {
		last = nil
		switch {
		case cur == nil:
			return nil, nil
		case cur.kind == kindMap:
			f := cur.field(step)
			if f == nil {
				return cur, nil
			}
			cur, last = f.val, f
		case cur.kind == kindList:
			i, err := strconv.Atoi(step)
			if err != nil || i < 0 || i >= len(cur.items) {
				return cur, nil
			}
			cur = cur.items[i]
		default:
			return cur, nil
		}
	}
	return cur, last
}

// joinPath renders a key path: dotted keys, [i] for list items, and ["..."] for keys that are not identifiers
// (file_mounts paths, labels with dots).
func joinPath(prefix string, step string) string {
	if isIdent(step) {
		if prefix == "" {
			return step
		}
		return prefix + "." + step
	}
	return prefix + "[" + strconv.Quote(step) + "]"
}

func indexPath(prefix string, i int) string { return prefix + "[" + strconv.Itoa(i) + "]" }

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// YAML 1.1 scalar resolution, as PyYAML's SafeLoader does it (the patterns of its implicit resolvers). Compiled on
// first use: every stix command pays for package-level work, most never read a task.
var (
	yaml11Bool  = lazyregexp.New(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)
	yaml11Int   = lazyregexp.New(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	yaml11Float = lazyregexp.New(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
)

// resolvePlain types a plain (unquoted, untagged) scalar.
func resolvePlain(text string) *value {
	switch text {
	case "", "~", "null", "Null", "NULL":
		return &value{kind: kindNull, s: text}
	}
	if yaml11Bool.MatchString(text) {
		c := text[0]
		return &value{kind: kindBool, b: c == 'y' || c == 'Y' || c == 't' || c == 'T' || text == "on" || text == "On" || text == "ON", s: text}
	}
	if yaml11Int.MatchString(text) {
		if v := parseYAML11Int(text); v != nil {
			return v
		}
	}
	if yaml11Float.MatchString(text) {
		return &value{kind: kindFloat, f: parseYAML11Float(text), s: text}
	}
	return &value{kind: kindString, s: text}
}

// parseYAML11Int parses an integer matched by yaml11Int. Integers beyond int64 become floats.
func parseYAML11Int(text string) *value {
	t := strings.ReplaceAll(text, "_", "")
	neg := false
	if t != "" && (t[0] == '-' || t[0] == '+') {
		neg = t[0] == '-'
		t = t[1:]
	}
	var n float64
	var exact int64
	var err error
	switch {
	case strings.Contains(t, ":"): // sexagesimal: 1:30 = 90
		for _, part := range strings.Split(t, ":") {
			d, _ := strconv.ParseInt(part, 10, 64)
			n = n*60 + float64(d)
		}
		exact, err = int64(n), nil
		if n >= 1<<63 {
			err = strconv.ErrRange
		}
	case strings.HasPrefix(t, "0b"):
		exact, err = strconv.ParseInt(t[2:], 2, 64)
	case strings.HasPrefix(t, "0x"):
		exact, err = strconv.ParseInt(t[2:], 16, 64)
	case len(t) > 1 && t[0] == '0':
		exact, err = strconv.ParseInt(t[1:], 8, 64)
	default:
		exact, err = strconv.ParseInt(t, 10, 64)
	}
	if err != nil {
		f, ferr := strconv.ParseFloat(t, 64)
		if ferr != nil && !isRangeErr(ferr) {
			return nil
		}
		if neg {
			f = -f
		}
		return &value{kind: kindFloat, f: f, s: text}
	}
	if neg {
		exact = -exact
	}
	return &value{kind: kindInt, i: exact, s: text}
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func parseYAML11Float(text string) float64 {
	t := strings.ReplaceAll(text, "_", "")
	switch strings.ToLower(strings.TrimLeft(t, "+-")) {
	case ".inf":
		if strings.HasPrefix(t, "-") {
			return math.Inf(-1)
		}
		return math.Inf(1)
	case ".nan":
		return math.NaN()
	}
	if strings.Contains(t, ":") { // sexagesimal float: 1:30.5 = 90.5
		neg := strings.HasPrefix(t, "-")
		var n float64
		for _, part := range strings.Split(strings.TrimLeft(t, "+-"), ":") {
			d, _ := strconv.ParseFloat(part, 64)
			n = n*60 + d
		}
		if neg {
			n = -n
		}
		return n
	}
	f, _ := strconv.ParseFloat(t, 64)
	return f
}

// pyFloat renders f as Python's repr(float): the shortest round-tripping digits, in positional notation for
// exponents -4 through 15 (always with a fractional part) and scientific notation otherwise.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	sci := strconv.FormatFloat(f, 'e', -1, 64)
	exp, _ := strconv.Atoi(sci[strings.IndexByte(sci, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return sci
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// fmtNumber renders a number for messages and canonical strings: integers without a fractional part.
func fmtNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
