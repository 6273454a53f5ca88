package spec

// This file lets other packages (internal/config) read YAML with the task reader's rules, positions and error
// format: one YAML reader for every stix file.

// NodeKind is the type of a YAML value, after YAML 1.1 typing as PyYAML does it (`yes` is a boolean).
type NodeKind uint8

// Kinds of Node.
const (
	NodeNull NodeKind = iota
	NodeBool
	NodeInt
	NodeFloat
	NodeString
	NodeMap
	NodeList
)

// Node is a read-only view of one YAML value with its position. The zero Node is an absent value (null).
type Node struct{ v *value }

// NodeField is one key of a mapping, with the key's position.
type NodeField struct {
	Key       string
	Line, Col int
	Value     Node
}

// ParseYAML reads every document of data, with aliases and merge keys resolved and the task reader's limits
// (alias bombs are errors). file is used in positions only. Empty documents are absent Nodes. On a YAML error
// the documents before it are returned with the error, an ErrorList.
func ParseYAML(file string, data []byte) ([]Node, error) {
	docs, errs := parseDocuments(file, data)
	out := make([]Node, len(docs))
	for i, d := range docs {
		out[i] = Node{d.root}
	}
	if len(errs) > 0 {
		return out, errs.sortAndDedup()
	}
	return out, nil
}

// Kind is the node's type; NodeNull for an absent node.
func (n Node) Kind() NodeKind {
	if n.v == nil {
		return NodeNull
	}
	return NodeKind(n.v.kind)
}

// Line and Col are the node's 1-based position; 0 for an absent node.
func (n Node) Line() int {
	if n.v == nil {
		return 0
	}
	return n.v.line
}

// Col is the node's 1-based column; 0 for an absent node.
func (n Node) Col() int {
	if n.v == nil {
		return 0
	}
	return n.v.col
}

// Bool, Int, Float and Str return the node's scalar value and whether it has that type. Int accepts integral
// floats and Float accepts integers, as JSON Schema's integer and number do.
func (n Node) Bool() (bool, bool) {
	if n.v == nil || n.v.kind != kindBool {
		return false, false
	}
	return n.v.b, true
}

// Int returns an integer value; see Bool.
func (n Node) Int() (int64, bool) { return n.v.integer() }

// Float returns a numeric value; see Bool.
func (n Node) Float() (float64, bool) { return n.v.number() }

// Str returns a string value; see Bool.
func (n Node) Str() (string, bool) { return n.v.str() }

// Fields lists a mapping's keys in document order; nil for other kinds.
func (n Node) Fields() []NodeField {
	if n.v == nil || n.v.kind != kindMap {
		return nil
	}
	out := make([]NodeField, len(n.v.fields))
	for i, f := range n.v.fields {
		out[i] = NodeField{Key: f.key, Line: f.keyLine, Col: f.keyCol, Value: Node{f.val}}
	}
	return out
}

// Items lists a list's items; nil for other kinds.
func (n Node) Items() []Node {
	if n.v == nil || n.v.kind != kindList {
		return nil
	}
	out := make([]Node, len(n.v.items))
	for i, it := range n.v.items {
		out[i] = Node{it}
	}
	return out
}

// Describe names what the node holds for "expected X, found Y" messages ("integer 5", "a list").
func (n Node) Describe() string {
	if n.v == nil {
		return "null"
	}
	return n.v.describe()
}

// Text renders a scalar as Python's str() does ("True", "1.5"); "" for mappings and lists.
func (n Node) Text() string {
	if n.v == nil || n.v.kind == kindMap || n.v.kind == kindList {
		return ""
	}
	return n.v.pyString()
}

// Any converts the node to plain Go values: nil, bool, int64, float64, string, map[string]any, []any.
func (n Node) Any() any {
	if n.v == nil {
		return nil
	}
	return n.v.toAny()
}

// DidYouMean is the "did you mean ...?" hint for a misspelt word among candidates, or "" when none is close.
func DidYouMean(word string, candidates []string) string { return didYouMean(word, candidates) }

// SortErrors orders errors by position and drops exact repeats, as Load does.
func SortErrors(l ErrorList) ErrorList { return l.sortAndDedup() }
