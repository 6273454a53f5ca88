package spec

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// TestSchemaValidatorMatchesReference checks stix's own schema validator (schema_validate.go) against
// santhosh-tekuri/jsonschema, the library it replaced on the CLI path (its init was too heavy for every command):
// over every corpus document and many mutations of each (every value replaced by values of every type and
// boundary, every mapping given an unknown key), both must fail the same keywords at the same places.
func TestSchemaValidatorMatchesReference(t *testing.T) {
	t.Parallel()
	ref := referenceSchema(t)
	s, err := taskSchema()
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"~", "true", "-1", "0", "1", "1.0", "0.0", "2.5", "256", "x", ".nan", "{}", "[]",
		"{bogus: 1, name: x}", "[1, 1]", "[x, [1]]", "{url: 1}", "{A_B: 1, 9x: 2}"}
	replacements := parseSnippets(t, names)
	root, files := corpusFiles(t)
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	var checked, failing int
	for _, path := range append(seeds, prefixAll(root, files)...) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		docs, _ := parseDocuments(path, data)
		for _, doc := range docs {
			if doc.root == nil || doc.broken || doc.root.kind != kindMap {
				continue
			}
			compare := func(what string) {
				checked++
				got := ownFailures(s, doc.root)
				want := referenceFailures(t, ref, doc.root)
				if len(want) > 0 {
					failing++
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s, %s:\nstix validator: %v\nreference:      %v", path, what, got, want)
				}
			}
			compare("as written")
			for i, node := range nodes(doc.root) {
				saved := *node
				for j, r := range replacements {
					*node = *r
					node.line, node.col = saved.line, saved.col
					compare(fmt.Sprintf("value %d replaced by %s", i, names[j]))
				}
				*node = saved
				if node.kind == kindMap {
					node.fields = append(node.fields, field{key: "stix_unknown", keyLine: node.line, keyCol: node.col, val: replacements[0]})
					compare(fmt.Sprintf("value %d given an unknown key", i))
					*node = saved
				}
			}
		}
	}
	t.Logf("compared %d documents, %d failing", checked, failing)
	if failing < 1000 || checked-failing < 200 {
		t.Errorf("compared %d documents, %d failing: too few of either kind to trust the comparison", checked, failing)
	}
}

func prefixAll(dir string, rels []string) []string {
	out := make([]string, len(rels))
	for i, r := range rels {
		out[i] = filepath.Join(dir, r)
	}
	return out
}

func parseSnippets(t *testing.T, snippets []string) []*value {
	var out []*value
	for _, s := range snippets {
		docs, errs := parseDocuments("snippet", []byte("v: "+s))
		if len(errs) > 0 || len(docs) != 1 || docs[0].root.get("v") == nil {
			t.Fatalf("snippet %q: %v", s, errs)
		}
		out = append(out, docs[0].root.get("v"))
	}
	return out
}

// nodes lists every value under root (not root itself), depth first.
func nodes(root *value) []*value {
	var out []*value
	var walk func(v *value)
	walk = func(v *value) {
		for _, f := range v.fields {
			out = append(out, f.val)
			walk(f.val)
		}
		for _, it := range v.items {
			out = append(out, it)
			walk(it)
		}
	}
	walk(root)
	return out
}

func failureString(loc []string, keyword string, keys []string) string {
	keys = slices.Clone(keys)
	sort.Strings(keys)
	return fmt.Sprintf("/%s %s %v", strings.Join(loc, "/"), keyword, keys)
}

func ownFailures(s *schemaNode, root *value) []string {
	m := schemaMapper{file: "f", root: root}
	m.validate(s, root, nil)
	var out []string
	for _, f := range m.failed {
		out = append(out, failureString(f.loc, f.keyword, f.keys))
	}
	sort.Strings(out)
	return out
}

func referenceSchema(t *testing.T) *jsonschema.Schema {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(taskSchemaJSON))
	if err != nil {
		t.Fatal(err)
	}
	const url = "https://stix.run/schema/task.json"
	c := jsonschema.NewCompiler()
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

func referenceFailures(t *testing.T, sch *jsonschema.Schema, root *value) []string {
	err := sch.Validate(root.toAny())
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("reference validator: %v", err)
	}
	var out []string
	var walk func(ve *jsonschema.ValidationError)
	walk = func(ve *jsonschema.ValidationError) {
		if len(ve.Causes) > 0 {
			for _, c := range ve.Causes {
				walk(c)
			}
			return
		}
		var keys []string
		switch k := ve.ErrorKind.(type) {
		case *kind.AdditionalProperties:
			keys = k.Properties
		case *kind.Required:
			keys = k.Missing
		}
		kw := ve.ErrorKind.KeywordPath()
		out = append(out, failureString(ve.InstanceLocation, kw[len(kw)-1], keys))
	}
	walk(ve)
	sort.Strings(out)
	return out
}

// TestCompileSchemaRefusesWhatItCannotCheck: a schema edit that uses a keyword the validator does not implement
// fails loudly (every test that loads a task) instead of being ignored.
func TestCompileSchemaRefusesWhatItCannotCheck(t *testing.T) {
	t.Parallel()
	for schema, want := range map[string]string{
		`{"type": "object", "properties": {"a": {"oneOf": []}}}`: "#/properties/a/oneOf: keyword not supported",
		`{"$ref": "#/$defs/missing"}`:                            `"#/$defs/missing" points at nothing`,
		`{"$ref": "https://example.com/s.json"}`:                 "only references within the document",
		`{"required": ["a", 1]}`:                                 "#/required: must be an array of strings",
		`{"minItems": -1}`:                                       "#/minItems: must be a non-negative integer",
		`{"patternProperties": {"(": {}}}`:                       "#/patternProperties",
	} {
		if _, err := compileSchema([]byte(schema)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("compileSchema(%s) = %v, want an error containing %q", schema, err, want)
		}
	}
	if _, err := compileSchema([]byte(`{"$schema": "x", "title": "t", "type": ["string", "null"], "minimum": 0.5}`)); err != nil {
		t.Errorf("annotations and supported keywords: %v", err)
	}
}
