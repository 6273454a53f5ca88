package config

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/stix-run/stix/internal/spec"
)

// checker validates one layer's tree against the schema.
type checker struct {
	file string
	errs spec.ErrorList
}

func (c *checker) add(line, col int, path, msg, hint string) {
	c.errs = append(c.errs, &spec.Error{Pos: spec.Pos{File: c.file, Line: line, Col: col}, Path: path, Message: msg, Hint: hint})
}

// check reports every way n does not fit k.
func (c *checker) check(n spec.Node, k *key, path string) {
	if !fits(n, k.types) {
		c.add(n.Line(), n.Col(), path, fmt.Sprintf("expected %s, found %s", typeNames(k.types), n.Describe()), "")
		return
	}
	switch n.Kind() {
	case spec.NodeString:
		s, _ := n.Str()
		if len(k.enum) > 0 && !containsFold(k.enum, s) {
			c.add(n.Line(), n.Col(), path, fmt.Sprintf("%s is not one of %s", strconv.Quote(s), strings.Join(k.enum, ", ")), spec.DidYouMean(s, k.enum))
		}
		if len(k.prefix) > 0 && !hasAnyPrefix(s, k.prefix) {
			c.add(n.Line(), n.Col(), path, fmt.Sprintf("%s must start with %s", strconv.Quote(s), strings.Join(k.prefix, " or ")), "")
		}
	case spec.NodeInt, spec.NodeFloat:
		f, _ := n.Float()
		if k.min != nil && f < *k.min {
			c.add(n.Line(), n.Col(), path, fmt.Sprintf("must be at least %s, found %s", fmtNum(*k.min), n.Text()), "")
		}
		if k.max != nil && f > *k.max {
			c.add(n.Line(), n.Col(), path, fmt.Sprintf("must be at most %s, found %s", fmtNum(*k.max), n.Text()), "")
		}
	case spec.NodeList:
		if k.items != nil {
			for i, it := range n.Items() {
				c.check(it, k.items, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	case spec.NodeMap:
		c.mapping(n, k, path)
	}
}

func (c *checker) mapping(n spec.Node, k *key, path string) {
	have := map[string]bool{}
	for _, f := range n.Fields() {
		have[f.Key] = true
		fpath := joinKey(path, f.Key)
		switch {
		case k.fields[f.Key] != nil:
			c.check(f.Value, k.fields[f.Key], fpath)
		case k.values != nil:
			c.check(f.Value, k.values, fpath)
		case k.open:
		default:
			c.add(f.Line, f.Col, fpath, fmt.Sprintf("unknown key %q", f.Key), spec.DidYouMean(f.Key, k.keyNames()))
		}
	}
	var missing []string
	for _, r := range k.required {
		if !have[r] {
			missing = append(missing, strconv.Quote(r))
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		c.add(n.Line(), n.Col(), path, "missing required key "+strings.Join(missing, " and "), "")
	}
}

// fits reports whether n's type is one of t. Integral floats are integers, as in JSON Schema.
func fits(n spec.Node, t typ) bool {
	switch n.Kind() {
	case spec.NodeNull:
		return t&tNull != 0
	case spec.NodeBool:
		return t&tBool != 0
	case spec.NodeInt:
		return t&(tInt|tNumber) != 0
	case spec.NodeFloat:
		if t&tNumber != 0 {
			return true
		}
		_, isInt := n.Int()
		return t&tInt != 0 && isInt
	case spec.NodeString:
		return t&tString != 0
	case spec.NodeMap:
		return t&tMap != 0
	default:
		return t&tList != 0
	}
}

// checkTaskKeys reports the keys of a task's `config:` that a task may not set: every set key must lie on the
// way to, or under, one of taskKeys.
func (c *checker) checkTaskKeys(n spec.Node, path string) {
	for _, f := range n.Fields() {
		fpath := joinKey(path, f.Key)
		inner := strings.TrimPrefix(fpath, "config.")
		switch {
		case isTaskKey(inner):
		case f.Value.Kind() == spec.NodeMap && isTaskKeyPrefix(inner):
			c.checkTaskKeys(f.Value, fpath)
		default:
			c.add(f.Line, f.Col, fpath, fmt.Sprintf("a task's config: cannot set %s", inner),
				"set it in ~/.stix/config.yaml, .stix.yaml or with --config; a task may set only "+strings.Join(taskKeys, ", "))
		}
	}
}

func isTaskKey(p string) bool {
	for _, k := range taskKeys {
		if p == k || strings.HasPrefix(p, k+".") {
			return true
		}
	}
	return false
}

func isTaskKeyPrefix(p string) bool {
	for _, k := range taskKeys {
		if strings.HasPrefix(k, p+".") {
			return true
		}
	}
	return false
}

// joinKey appends a key to a dotted path.
func joinKey(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func containsFold(list []string, s string) bool {
	for _, e := range list {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func fmtNum(f float64) string {
	if f == math.Trunc(f) {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
