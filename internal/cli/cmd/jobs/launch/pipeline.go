package launch

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"

	"github.com/stix-run/stix/api"
)

// taskDocuments splits a task file into its tasks' documents, each a task file of its own, for planning: a
// pipeline's first document when it holds only `name` names the pipeline and is no task. An inline command is
// one task with no document. The file was validated first: its errors are the core's to report with positions.
func taskDocuments(ts api.TaskSpec) ([]string, error) {
	if ts.YAML == "" {
		return []string{""}, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader([]byte(ts.YAML)))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ts.FileName, err)
		}
		docs = append(docs, &n)
	}
	if len(docs) > 1 && namesPipeline(docs[0]) {
		docs = docs[1:]
	}
	out := make([]string, 0, len(docs))
	for _, d := range docs {
		b, err := yaml.Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ts.FileName, err)
		}
		out = append(out, string(b))
	}
	return out, nil
}

// namesPipeline reports whether a document holds only `name`.
func namesPipeline(doc *yaml.Node) bool {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return false
	}
	m := doc.Content[0]
	return m.Kind == yaml.MappingNode && len(m.Content) == 2 && m.Content[0].Value == "name"
}
