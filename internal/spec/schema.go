package spec

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

//go:embed schema/task.json
var taskSchemaJSON []byte

const taskSchemaURL = "https://stix.run/schema/task.json"

// taskSchema is compiled on first use, not at package init: `stix --help` must not pay for it.
var taskSchema = sync.OnceValues(func() (*compiledSchema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(taskSchemaJSON))
	if err != nil {
		return nil, fmt.Errorf("task schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(taskSchemaURL, doc); err != nil {
		return nil, fmt.Errorf("task schema: %w", err)
	}
	sch, err := c.Compile(taskSchemaURL)
	if err != nil {
		return nil, fmt.Errorf("task schema: %w", err)
	}
	return &compiledSchema{schema: sch, doc: doc}, nil
})

// compiledSchema is the compiled task schema and its JSON document, which error messages consult for the keys a
// mapping allows.
type compiledSchema struct {
	schema *jsonschema.Schema
	doc    any
}

// validateSchema checks one task document against the task schema and returns positioned errors.
func validateSchema(file string, root *value) ErrorList {
	cs, err := taskSchema()
	if err != nil { // the embedded schema is broken: a bug, reported rather than hidden
		return ErrorList{{Pos: Pos{File: file, Line: root.line, Col: root.col}, Message: err.Error()}}
	}
	verr := cs.schema.Validate(root.toAny())
	if verr == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(verr, &ve) {
		return ErrorList{{Pos: Pos{File: file, Line: root.line, Col: root.col}, Message: verr.Error()}}
	}
	m := schemaMapper{file: file, root: root, cs: cs}
	m.collect(ve)
	return m.errs
}

type schemaMapper struct {
	file string
	root *value
	cs   *compiledSchema
	errs ErrorList
}

// collect walks the validator's error tree down to its leaves. The schema uses type lists rather than anyOf, so
// every leaf is an error worth showing.
func (m *schemaMapper) collect(ve *jsonschema.ValidationError) {
	if len(ve.Causes) == 0 {
		m.leaf(ve)
		return
	}
	for _, c := range ve.Causes {
		m.collect(c)
	}
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

// leaf turns one validator error into a user-facing one.
func (m *schemaMapper) leaf(ve *jsonschema.ValidationError) {
	v, f := m.root.at(ve.InstanceLocation)
	path := instancePath(m.root, ve.InstanceLocation)
	switch k := ve.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		m.unknownKeys(ve, v, path, k.Properties)
	case *kind.Type:
		m.add(v, nil, path, fmt.Sprintf("expected %s, found %s", typeNames(k.Want), v.describe()), "")
	case *kind.Required:
		m.add(v, f, path, fmt.Sprintf("missing required key %s", quotedList(k.Missing, "and")), "")
	case *kind.Minimum:
		m.add(v, nil, path, fmt.Sprintf("must be at least %s, found %s", ratString(k.Want), ratString(k.Got)), "")
	case *kind.Maximum:
		m.add(v, nil, path, fmt.Sprintf("must be at most %s, found %s", ratString(k.Want), ratString(k.Got)), "")
	case *kind.ExclusiveMinimum:
		m.add(v, nil, path, fmt.Sprintf("must be greater than %s, found %s", ratString(k.Want), ratString(k.Got)), "")
	case *kind.MaxProperties:
		m.add(v, nil, path, fmt.Sprintf("must have at most %d %s, found %d", k.Want, plural(k.Want, "entry", "entries"), k.Got), "")
	case *kind.MinProperties:
		m.add(v, nil, path, fmt.Sprintf("must have at least %d %s, found none", k.Want, plural(k.Want, "entry", "entries")), "")
	case *kind.MinItems:
		m.add(v, nil, path, fmt.Sprintf("must have at least %d %s, found %d", k.Want, plural(k.Want, "item", "items"), k.Got), "")
	case *kind.UniqueItems:
		m.add(v, nil, path, fmt.Sprintf("items %d and %d are the same", k.Duplicates[0], k.Duplicates[1]), "")
	default: // a keyword the schema does not use today
		m.add(v, nil, path, fmt.Sprintf("fails the schema's %s rule", strings.Join(ve.ErrorKind.KeywordPath(), "/")), "")
	}
}

// unknownKeys reports each key a mapping does not allow, with the closest allowed key as a hint. Env and secret
// names, which a mapping allows by pattern, get a message about the name instead.
func (m *schemaMapper) unknownKeys(ve *jsonschema.ValidationError, v *value, path string, keys []string) {
	obj, _ := m.cs.lookup(ve.SchemaURL).(map[string]any)
	allowed := sortedKeys(obj["properties"])
	patterns := sortedKeys(obj["patternProperties"])
	sort.Slice(keys, func(i, j int) bool { return fieldIndex(v, keys[i]) < fieldIndex(v, keys[j]) })
	for _, key := range keys {
		f := v.field(key)
		kpath := joinPath(path, key)
		switch {
		case len(allowed) == 0 && len(patterns) == 1 && (path == "envs" || path == "secrets"):
			m.add(v, f, kpath, fmt.Sprintf("invalid name %q: names must start with a letter or _ and hold only letters, digits and _", key), "")
		case len(allowed) == 0 && len(patterns) > 0:
			m.add(v, f, kpath, fmt.Sprintf("invalid key %q: keys must match %s", key, strings.Join(patterns, " or ")), "")
		default:
			m.add(v, f, kpath, fmt.Sprintf("unknown key %q", key), didYouMean(key, publicKeys(allowed)))
		}
	}
}

// lookup resolves a schema location (URL#/json/pointer) in the schema document.
func (cs *compiledSchema) lookup(url string) any {
	_, ptr, _ := strings.Cut(url, "#")
	cur := cs.doc
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		if tok == "" {
			continue
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[tok]
	}
	return cur
}

func fieldIndex(v *value, key string) int {
	for i, f := range v.fields {
		if f.key == key {
			return i
		}
	}
	return len(v.fields)
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
