package spec

import (
	_ "embed"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

//go:embed schema/task.json
var taskSchemaJSON []byte

// taskSchema is compiled on first use, not at package init: `stix --help` must not pay for it.
var taskSchema = sync.OnceValues(func() (*schemaNode, error) {
	s, err := compileSchema(taskSchemaJSON)
	if err != nil {
		return nil, fmt.Errorf("task schema: %w", err)
	}
	return s, nil
})

// validateSchema checks one task document against the task schema and returns positioned errors.
func validateSchema(file string, root *value) ErrorList {
	s, err := taskSchema()
	if err != nil { // the embedded schema is broken: a bug, reported rather than hidden
		return ErrorList{{Pos: Pos{File: file, Line: root.line, Col: root.col}, Message: err.Error()}}
	}
	m := schemaMapper{file: file, root: root}
	m.validate(s, root, nil)
	return m.errs
}

// schemaMapper collects the schema errors of one document as user-facing errors with positions.
type schemaMapper struct {
	file string
	root *value
	errs ErrorList
	// failed records each failure's instance location and keyword, for the test that compares this validator
	// with a reference implementation.
	failed []schemaFailure
}

func (m *schemaMapper) add(v *value, f *field, path, msg, hint string) {
	pos := Pos{File: m.file, Line: m.root.line, Col: m.root.col}
	switch {
	case f != nil:
		pos.Line, pos.Col = f.keyLine, f.keyCol
	case v != nil:
		pos.Line, pos.Col = v.line, v.col
	}
	m.errs = append(m.errs, &Error{Pos: pos, Path: path, Message: msg, Hint: hint})
}

// fail reports one failed keyword at the instance location loc.
func (m *schemaMapper) fail(loc []string, keyword, msg string) {
	m.failed = append(m.failed, schemaFailure{loc: slices.Clone(loc), keyword: keyword})
	v, _ := m.root.at(loc)
	m.add(v, nil, instancePath(m.root, loc), msg, "")
}

// unknownKeys reports each key a mapping does not allow, with the closest allowed key as a hint. Env and secret
// names, which a mapping allows by pattern, get a message about the name instead.
func (m *schemaMapper) unknownKeys(s *schemaNode, loc []string, keys []string) {
	m.failed = append(m.failed, schemaFailure{loc: slices.Clone(loc), keyword: "additionalProperties", keys: keys})
	v, _ := m.root.at(loc)
	path := instancePath(m.root, loc)
	allowed := sortedKeys(s.doc["properties"])
	patterns := sortedKeys(s.doc["patternProperties"])
	for _, key := range keys {
		f := v.field(key)
		kpath := joinPath(path, key)
		switch {
		case len(allowed) == 0 && len(patterns) == 1 && (path == "envs" || path == "secrets"):
			m.add(v, f, kpath, fmt.Sprintf("invalid name %q: %s", key, EnvNameRule), "")
		case len(allowed) == 0 && len(patterns) > 0:
			m.add(v, f, kpath, fmt.Sprintf("invalid key %q: keys must match %s", key, strings.Join(patterns, " or ")), "")
		default:
			m.add(v, f, kpath, fmt.Sprintf("unknown key %q", key), didYouMean(key, publicKeys(allowed)))
		}
	}
}

func sortedKeys(m any) []string {
	obj, _ := m.(map[string]any)
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// publicKeys drops the internal keys (leading underscore) from suggestions.
func publicKeys(keys []string) []string {
	out := keys[:0:0]
	for _, k := range keys {
		if !strings.HasPrefix(k, "_") {
			out = append(out, k)
		}
	}
	return out
}

// instancePath renders a JSON Schema instance location as a key path, using the value tree to tell list indexes
// from keys that happen to be numbers.
func instancePath(root *value, loc []string) string {
	p, cur := "", root
	for _, step := range loc {
		if cur != nil && cur.kind == kindList {
			i, _ := strconv.Atoi(step)
			p = indexPath(p, i)
			if i >= 0 && i < len(cur.items) {
				cur = cur.items[i]
			} else {
				cur = nil
			}
			continue
		}
		p = joinPath(p, step)
		cur = cur.get(step)
	}
	return p
}

// typeOrder is the order types are listed in messages.
var typeOrder = []string{"string", "number", "integer", "boolean", "mapping", "list", "null"}

// typeNames renders JSON Schema type names in YAML words, in a fixed order: "string or mapping".
func typeNames(want []string) string {
	has := map[string]bool{}
	for _, w := range want {
		switch w {
		case "object":
			w = "mapping"
		case "array":
			w = "list"
		}
		has[w] = true
	}
	var names []string
	for _, w := range typeOrder {
		if has[w] {
			names = append(names, w)
		}
	}
	switch len(names) {
	case 0:
		return "a different type"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func quotedList(items []string, conj string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	if len(q) <= 1 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " " + conj + " " + q[len(q)-1]
}

func ratString(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return fmtNumber(f)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
