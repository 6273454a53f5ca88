package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// The task schema is checked by this small JSON Schema (2020-12) validator rather than by a general library: the
// library stix used compiled every draft's meta-schema at package init, which every stix command paid for. It
// implements exactly the keywords the task schema uses, with the library's semantics (a test compares the two over
// the corpus and thousands of mutated documents), and refuses a schema with any other keyword, so that a schema
// edit cannot be silently ignored.

// schemaNode is one compiled (sub)schema.
type schemaNode struct {
	doc   map[string]any // the schema object as written: messages list its allowed keys
	types []string       // "type", as written
	ref   *schemaNode    // "$ref", resolved

	properties        map[string]*schemaNode
	patternProperties []patternProperty
	additional        *schemaNode // "additionalProperties" as a schema
	noAdditional      bool        // "additionalProperties": false
	required          []string
	minProperties     *int
	maxProperties     *int

	items       *schemaNode
	minItems    *int
	uniqueItems bool

	minimum, maximum, exclusiveMinimum *big.Rat
}

type patternProperty struct {
	pattern string
	re      *regexp.Regexp
	schema  *schemaNode
}

// schemaFailure is one failed keyword: where in the document and which keyword, with the keys an
// additionalProperties failure is about.
type schemaFailure struct {
	loc     []string
	keyword string
	keys    []string
}

// annotations are keywords that do not validate.
var annotations = map[string]bool{"$schema": true, "$id": true, "$defs": true, "$comment": true, "title": true, "description": true, "default": true, "examples": true}

// compileSchema compiles a JSON Schema document that uses only the keywords schemaNode implements.
func compileSchema(data []byte) (*schemaNode, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	c := schemaCompiler{root: doc, byPointer: map[string]*schemaNode{}}
	return c.compile(doc, "")
}

type schemaCompiler struct {
	root      any
	byPointer map[string]*schemaNode
}

func (c *schemaCompiler) compile(raw any, ptr string) (*schemaNode, error) {
	if n, ok := c.byPointer[ptr]; ok {
		return n, nil
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: a schema must be an object", pointerName(ptr))
	}
	n := &schemaNode{doc: obj}
	c.byPointer[ptr] = n
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := c.keyword(n, k, obj[k], ptr+"/"+escapePointer(k)); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func (c *schemaCompiler) keyword(n *schemaNode, k string, raw any, ptr string) error {
	var err error
	switch k {
	case "type":
		if t, ok := raw.(string); ok {
			n.types = []string{t}
		} else {
			n.types, err = stringList(raw, ptr)
		}
	case "$ref":
		ref, _ := raw.(string)
		target, ok := strings.CutPrefix(ref, "#")
		if !ok {
			return fmt.Errorf("%s: only references within the document (#/...) are supported", pointerName(ptr))
		}
		doc, found := resolvePointer(c.root, target)
		if !found {
			return fmt.Errorf("%s: %q points at nothing", pointerName(ptr), ref)
		}
		n.ref, err = c.compile(doc, target)
	case "properties":
		obj, ok := raw.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: must be an object", pointerName(ptr))
		}
		n.properties = map[string]*schemaNode{}
		for name, sub := range obj {
			if n.properties[name], err = c.compile(sub, ptr+"/"+escapePointer(name)); err != nil {
				return err
			}
		}
	case "patternProperties":
		obj, ok := raw.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: must be an object", pointerName(ptr))
		}
		for _, pattern := range sortedKeys(obj) {
			re, rerr := regexp.Compile(pattern)
			if rerr != nil {
				return fmt.Errorf("%s: %w", pointerName(ptr), rerr)
			}
			sub, cerr := c.compile(obj[pattern], ptr+"/"+escapePointer(pattern))
			if cerr != nil {
				return cerr
			}
			n.patternProperties = append(n.patternProperties, patternProperty{pattern: pattern, re: re, schema: sub})
		}
	case "additionalProperties":
		if b, ok := raw.(bool); ok {
			n.noAdditional = !b
		} else {
			n.additional, err = c.compile(raw, ptr)
		}
	case "required":
		n.required, err = stringList(raw, ptr)
	case "minProperties":
		n.minProperties, err = schemaInt(raw, ptr)
	case "maxProperties":
		n.maxProperties, err = schemaInt(raw, ptr)
	case "minItems":
		n.minItems, err = schemaInt(raw, ptr)
	case "uniqueItems":
		n.uniqueItems, _ = raw.(bool)
	case "items":
		n.items, err = c.compile(raw, ptr)
	case "minimum":
		n.minimum, err = schemaRat(raw, ptr)
	case "maximum":
		n.maximum, err = schemaRat(raw, ptr)
	case "exclusiveMinimum":
		n.exclusiveMinimum, err = schemaRat(raw, ptr)
	default:
		if !annotations[k] {
			return fmt.Errorf("%s: keyword not supported by stix's schema validator", pointerName(ptr))
		}
	}
	return err
}

func stringList(raw any, ptr string) ([]string, error) {
	list, ok := raw.([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, isString := e.(string)
		if !isString {
			ok = false
			break
		}
		out = append(out, s)
	}
	if !ok {
		return nil, fmt.Errorf("%s: must be an array of strings", pointerName(ptr))
	}
	return out, nil
}

func schemaInt(raw any, ptr string) (*int, error) {
	num, ok := raw.(json.Number)
	i, err := strconv.Atoi(string(num))
	if !ok || err != nil || i < 0 {
		return nil, fmt.Errorf("%s: must be a non-negative integer", pointerName(ptr))
	}
	return &i, nil
}

func schemaRat(raw any, ptr string) (*big.Rat, error) {
	num, _ := raw.(json.Number)
	r, ok := new(big.Rat).SetString(string(num))
	if !ok {
		return nil, fmt.Errorf("%s: must be a number", pointerName(ptr))
	}
	return r, nil
}

func pointerName(ptr string) string { return "#" + ptr }

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// resolvePointer follows a JSON pointer ("/$defs/envs") in doc.
func resolvePointer(doc any, ptr string) (any, bool) {
	cur := doc
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		if tok == "" {
			continue
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[tok]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// schemaType is the JSON type of a value as JSON Schema sees it. A NaN or infinite float is not a JSON number; the
// document carries it as its text, a string.
func schemaType(v *value) string {
	switch v.kind {
	case kindNull:
		return "null"
	case kindBool:
		return "boolean"
	case kindInt:
		return "number"
	case kindFloat:
		if math.IsNaN(v.f) || math.IsInf(v.f, 0) {
			return "string"
		}
		return "number"
	case kindString:
		return "string"
	case kindMap:
		return "object"
	}
	return "array"
}

// rat is a number's exact value as the text it prints as ("0.1" is 1/10), as JSON Schema compares numbers.
func (v *value) rat() *big.Rat {
	var r *big.Rat
	if v.kind == kindInt {
		r = new(big.Rat).SetInt64(v.i)
	} else {
		r, _ = new(big.Rat).SetString(strconv.FormatFloat(v.f, 'g', -1, 64))
	}
	return r
}

func typeMatches(types []string, v *value) bool {
	t := schemaType(v)
	for _, want := range types {
		if want == t || want == "integer" && t == "number" && v.rat().IsInt() {
			return true
		}
	}
	return false
}

// validate checks v, at the instance location loc, against s: a failed type ends the checks of s, as in the
// specification's reference implementations; every other keyword is checked and reported.
func (m *schemaMapper) validate(s *schemaNode, v *value, loc []string) {
	if len(s.types) > 0 && !typeMatches(s.types, v) {
		m.fail(loc, "type", fmt.Sprintf("expected %s, found %s", typeNames(s.types), v.describe()))
		return
	}
	if s.ref != nil {
		m.validate(s.ref, v, loc)
	}
	switch schemaType(v) {
	case "object":
		m.validateObject(s, v, loc)
	case "array":
		m.validateArray(s, v, loc)
	case "number":
		m.validateNumber(s, v, loc)
	}
}

func (m *schemaMapper) validateObject(s *schemaNode, v *value, loc []string) {
	n := len(v.fields)
	if s.minProperties != nil && n < *s.minProperties {
		m.fail(loc, "minProperties", fmt.Sprintf("must have at least %d %s, found none", *s.minProperties, plural(*s.minProperties, "entry", "entries")))
	}
	if s.maxProperties != nil && n > *s.maxProperties {
		m.fail(loc, "maxProperties", fmt.Sprintf("must have at most %d %s, found %d", *s.maxProperties, plural(*s.maxProperties, "entry", "entries"), n))
	}
	var missing []string
	for _, key := range s.required {
		if v.field(key) == nil {
			missing = append(missing, key)
		}
	}
	if missing != nil {
		m.failed = append(m.failed, schemaFailure{loc: slices.Clone(loc), keyword: "required", keys: missing})
		at, f := m.root.at(loc) // v itself, and its key when it is a mapping's value: the error points at the key
		m.add(at, f, instancePath(m.root, loc), fmt.Sprintf("missing required key %s", quotedList(missing, "and")), "")
	}
	var extra []string
	for _, f := range v.fields {
		floc := append(loc[:len(loc):len(loc)], f.key)
		evaluated := false
		if sub, ok := s.properties[f.key]; ok {
			evaluated = true
			m.validate(sub, f.val, floc)
		}
		for _, pp := range s.patternProperties {
			if pp.re.MatchString(f.key) {
				evaluated = true
				m.validate(pp.schema, f.val, floc)
			}
		}
		switch {
		case evaluated:
		case s.noAdditional:
			extra = append(extra, f.key)
		case s.additional != nil:
			m.validate(s.additional, f.val, floc)
		}
	}
	if extra != nil {
		m.unknownKeys(s, loc, extra)
	}
}

func (m *schemaMapper) validateArray(s *schemaNode, v *value, loc []string) {
	if s.minItems != nil && len(v.items) < *s.minItems {
		m.fail(loc, "minItems", fmt.Sprintf("must have at least %d %s, found %d", *s.minItems, plural(*s.minItems, "item", "items"), len(v.items)))
	}
	if s.uniqueItems {
	dup:
		for i := 1; i < len(v.items); i++ {
			for j := 0; j < i; j++ {
				if schemaEqual(v.items[i], v.items[j]) {
					m.fail(loc, "uniqueItems", fmt.Sprintf("items %d and %d are the same", j, i))
					break dup
				}
			}
		}
	}
	if s.items != nil {
		for i, it := range v.items {
			m.validate(s.items, it, append(loc[:len(loc):len(loc)], strconv.Itoa(i)))
		}
	}
}

func (m *schemaMapper) validateNumber(s *schemaNode, v *value, loc []string) {
	got := v.rat()
	if s.minimum != nil && got.Cmp(s.minimum) < 0 {
		m.fail(loc, "minimum", fmt.Sprintf("must be at least %s, found %s", ratString(s.minimum), ratString(got)))
	}
	if s.maximum != nil && got.Cmp(s.maximum) > 0 {
		m.fail(loc, "maximum", fmt.Sprintf("must be at most %s, found %s", ratString(s.maximum), ratString(got)))
	}
	if s.exclusiveMinimum != nil && got.Cmp(s.exclusiveMinimum) <= 0 {
		m.fail(loc, "exclusiveMinimum", fmt.Sprintf("must be greater than %s, found %s", ratString(s.exclusiveMinimum), ratString(got)))
	}
}

// schemaEqual is JSON Schema's equality: numbers by value (1 equals 1.0), objects whatever their key order.
func schemaEqual(a, b *value) bool {
	ta, tb := schemaType(a), schemaType(b)
	if ta != tb {
		return false
	}
	switch ta {
	case "null":
		return true
	case "boolean":
		return a.b == b.b
	case "number":
		return a.rat().Cmp(b.rat()) == 0
	case "string":
		return a.s == b.s
	case "object":
		if len(a.fields) != len(b.fields) {
			return false
		}
		for _, f := range a.fields {
			g := b.field(f.key)
			if g == nil || !schemaEqual(f.val, g.val) {
				return false
			}
		}
		return true
	}
	if len(a.items) != len(b.items) {
		return false
	}
	for i := range a.items {
		if !schemaEqual(a.items[i], b.items[i]) {
			return false
		}
	}
	return true
}
