package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stix-run/stix/internal/lazyregexp"
)

// maxExpandedNodes bounds the size of a document after alias expansion, so that a "billion laughs" file is an
// error, not an out-of-memory crash. Real task files have a few hundred nodes.
const maxExpandedNodes = 200_000

// yamlErrorPrefix starts the message of every error that makes a file unreadable as YAML.
const yamlErrorPrefix = "invalid YAML: "

// document is one YAML document of a task file, converted to a value tree.
type document struct {
	root   *value // nil for an empty document
	line   int    // where the document starts
	broken bool   // the document has a YAML error: its content cannot be trusted for further checks
}

// parseDocuments splits data into YAML documents and converts each. On a syntax error it returns the documents
// read so far and the error: the YAML parser cannot resume after one.
func parseDocuments(file string, data []byte) (docs []document, errs ErrorList) {
	defer func() {
		// yaml.v3 turns its own failures into errors; anything else it panics with is a bug in it, and must not
		// take stix down with it.
		if r := recover(); r != nil {
			errs = append(errs, &Error{Pos: Pos{File: file, Line: 1, Col: 1}, Message: fmt.Sprintf("%scannot parse file: %v", yamlErrorPrefix, r)})
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, errs
		}
		if err != nil {
			return docs, append(errs, syntaxError(file, data, err))
		}
		c := &converter{file: file, budget: maxExpandedNodes, done: map[*yaml.Node]*value{}, busy: map[*yaml.Node]bool{}}
		var root *value
		if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
			root = c.convert(n.Content[0])
		}
		errs = append(errs, c.errs...)
		if root != nil && root.kind == kindNull {
			root = nil
		}
		docs = append(docs, document{root: root, line: n.Line, broken: c.broken})
	}
}

var (
	yamlLineRe   = lazyregexp.New(`^yaml: line (\d+): (.*)$`)
	yamlAnchorRe = lazyregexp.New(`^yaml: unknown anchor '(.*)' referenced$`)
)

// scannerProblems are the yaml.v3 messages raised by its scanner, which numbers lines from 1; its parser's
// messages number them from 0. Without a line number, the problem is on the first line.
var scannerProblems = []string{
	"block sequence entries are not allowed", "could not find expected", "did not find expected alphabetic",
	"did not find expected comment", "did not find expected digit", "did not find expected hexdecimal",
	"did not find expected version", "did not find expected whitespace", "did not find the expected '>'",
	"found a tab character", "found an indentation indicator", "found character that cannot start",
	"found extremely long", "found invalid Unicode", "found unexpected document indicator",
	"found unexpected end of stream", "found unexpected non-alphabetical", "found unknown directive",
	"found unknown escape", "mapping keys are not allowed", "mapping values are not allowed",
}

// syntaxError positions a yaml.v3 syntax error. yaml.v3 reports a line only; the column given is that of the
// line's first non-blank character, which is where such problems usually start.
func syntaxError(file string, data []byte, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := yamlLineRe.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		scanner := false
		for _, p := range scannerProblems {
			scanner = scanner || strings.HasPrefix(msg, p)
		}
		if !scanner {
			line++
		}
	} else if m := yamlAnchorRe.FindStringSubmatch(err.Error()); m != nil {
		if i := bytes.Index(data, []byte("*"+m[1])); i >= 0 {
			line = bytes.Count(data[:i], []byte("\n")) + 1
			col := i - bytes.LastIndexByte(data[:i], '\n')
			return &Error{Pos: Pos{File: file, Line: line, Col: col}, Message: yamlErrorPrefix + msg}
		}
	}
	return &Error{Pos: Pos{File: file, Line: line, Col: firstColumn(data, line)}, Message: yamlErrorPrefix + msg}
}

// firstColumn is the 1-based column of the first non-blank character of a 1-based line, or 1.
func firstColumn(data []byte, line int) int {
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return 1
		}
		data = data[i+1:]
	}
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		data = data[:i]
	}
	for i, c := range data {
		if c != ' ' && c != '\t' {
			return i + 1
		}
	}
	return 1
}

// converter turns yaml.v3 nodes into values.
type converter struct {
	file   string
	budget int
	done   map[*yaml.Node]*value // converted anchors: an alias shares its anchor's value
	busy   map[*yaml.Node]bool   // anchors being converted: an alias to one is a cycle
	errs   ErrorList
	broken bool
}

func (c *converter) errorf(n *yaml.Node, format string, args ...any) {
	c.broken = true
	c.errs = append(c.errs, &Error{Pos: Pos{File: c.file, Line: n.Line, Col: n.Column}, Message: yamlErrorPrefix + fmt.Sprintf(format, args...)})
}

func (c *converter) convert(n *yaml.Node) *value {
	null := &value{kind: kindNull, line: n.Line, col: n.Column, size: 1}
	if c.budget <= 0 {
		return null
	}
	c.budget--
	if c.budget == 0 {
		c.errorf(n, "the document is too large after expanding aliases (more than %d values)", maxExpandedNodes)
		return null
	}
	switch n.Kind {
	case yaml.AliasNode:
		target := n.Alias
		if target == nil {
			c.errorf(n, "unknown anchor %q", n.Value)
			return null
		}
		if c.busy[target] {
			c.errorf(n, "anchor %q refers to itself", n.Value)
			return null
		}
		if v, ok := c.done[target]; ok {
			c.budget -= v.size
			if c.budget <= 0 {
				c.budget = 0
				c.errorf(n, "the document is too large after expanding aliases (more than %d values)", maxExpandedNodes)
				return null
			}
			return v
		}
		return c.convert(target)
	case yaml.ScalarNode:
		v := sized(c.scalar(n))
		c.remember(n, v)
		return v
	case yaml.SequenceNode:
		c.busy[n] = true
		v := &value{kind: kindList, line: n.Line, col: n.Column, items: make([]*value, 0, len(n.Content))}
		for _, item := range n.Content {
			v.items = append(v.items, c.convert(item))
		}
		delete(c.busy, n)
		c.remember(n, sized(v))
		return v
	case yaml.MappingNode:
		c.busy[n] = true
		v := sized(c.mapping(n))
		delete(c.busy, n)
		c.remember(n, v)
		return v
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			return c.convert(n.Content[0])
		}
	}
	return null
}

func (c *converter) remember(n *yaml.Node, v *value) {
	if n.Anchor != "" {
		c.done[n] = v
	}
}

// sized records the expanded size of v from its children's, capped so that it cannot overflow.
func sized(v *value) *value {
	n := 1
	for _, f := range v.fields {
		n += f.val.size
	}
	for _, it := range v.items {
		n += it.size
	}
	v.size = min(n, maxExpandedNodes+1)
	return v
}

// scalar types a scalar node: quoted and block scalars are strings, explicit tags are honoured, plain scalars
// follow YAML 1.1 as PyYAML does.
func (c *converter) scalar(n *yaml.Node) *value {
	var v *value
	switch {
	case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 && n.Style&yaml.TaggedStyle == 0:
		v = &value{kind: kindString, s: n.Value}
	case n.Style&yaml.TaggedStyle != 0:
		v = c.tagged(n)
	default:
		v = resolvePlain(n.Value)
	}
	v.line, v.col = n.Line, n.Column
	return v
}

// tagged types a scalar with an explicit standard tag. Other tags are rejected, as PyYAML's safe loader does.
func (c *converter) tagged(n *yaml.Node) *value {
	switch n.Tag {
	case "!!str", "!":
		return &value{kind: kindString, s: n.Value}
	case "!!null":
		return &value{kind: kindNull, s: n.Value}
	case "!!bool", "!!int", "!!float":
		v := resolvePlain(n.Value)
		want := map[string]valueKind{"!!bool": kindBool, "!!int": kindInt, "!!float": kindFloat}[n.Tag]
		if v.kind == kindInt && want == kindFloat {
			return &value{kind: kindFloat, f: float64(v.i), s: n.Value}
		}
		if v.kind != want {
			c.errorf(n, "%q is not a valid %s", n.Value, n.Tag)
			return &value{kind: kindString, s: n.Value}
		}
		return v
	}
	c.errorf(n, "unsupported tag %s", n.Tag)
	return &value{kind: kindString, s: n.Value}
}

// mapping converts a mapping node, applying merge keys (`<<: *base`): keys written in the mapping win over merged
// ones, and earlier merged mappings win over later ones.
func (c *converter) mapping(n *yaml.Node) *value {
	v := &value{kind: kindMap, line: n.Line, col: n.Column, fields: make([]field, 0, len(n.Content)/2)}
	var merges []*value
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind == yaml.ScalarNode && kn.Tag == "!!merge" && kn.Style == 0 {
			m := c.convert(vn)
			switch m.kind {
			case kindMap:
				merges = append(merges, m)
			case kindList:
				for _, it := range m.items {
					if it.kind != kindMap {
						c.errorf(vn, "a merge key (<<) takes a mapping or a list of mappings")
						continue
					}
					merges = append(merges, it)
				}
			default:
				c.errorf(vn, "a merge key (<<) takes a mapping or a list of mappings")
			}
			continue
		}
		key, ok := c.key(kn)
		if !ok {
			c.convert(vn) // still count it against the budget
			continue
		}
		if prev := v.field(key); prev != nil {
			c.errs = append(c.errs, &Error{
				Pos:     Pos{File: c.file, Line: kn.Line, Col: kn.Column},
				Message: fmt.Sprintf("duplicate key %q (first given at line %d)", key, prev.keyLine),
				Hint:    "remove one of them",
			})
			prev.val = c.convert(vn)
			continue
		}
		v.fields = append(v.fields, field{key: key, keyLine: kn.Line, keyCol: kn.Column, val: c.convert(vn)})
	}
	for _, m := range merges {
		for _, f := range m.fields {
			if v.field(f.key) == nil {
				v.fields = append(v.fields, f)
			}
		}
	}
	return v
}

// key renders a mapping key as text, as Python's str() renders the key PyYAML loaded.
func (c *converter) key(kn *yaml.Node) (string, bool) {
	if kn.Kind == yaml.AliasNode && kn.Alias != nil {
		kn = kn.Alias
	}
	if kn.Kind != yaml.ScalarNode {
		c.errorf(kn, "a mapping key must be a plain value, not a %s", nodeKindName(kn.Kind))
		return "", false
	}
	return c.scalar(kn).pyString(), true
}

func nodeKindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}
