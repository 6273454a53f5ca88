package spec

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// TaskDocuments splits a task file into its tasks' documents, each re-encoded as a task file of its own, so that
// one task of a pipeline can be planned or launched alone. Empty (or null) documents are skipped, and a first document
// holding only `name` names the pipeline and is no task (as Load reads it). Check the file with Load first: the
// error here is YAML's, without Load's positions and hints.
func TaskDocuments(text string) ([]string, error) {
	dec := yaml.NewDecoder(strings.NewReader(text))
	var nodes []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(n.Content) > 0 && n.Content[0].ShortTag() != "!!null" {
			nodes = append(nodes, &n)
		}
	}
	if len(nodes) > 1 {
		if m := nodes[0].Content[0]; m.Kind == yaml.MappingNode && len(m.Content) == 2 && m.Content[0].Value == "name" {
			nodes = nodes[1:]
		}
	}
	docs := make([]string, 0, len(nodes))
	for _, n := range nodes {
		var b bytes.Buffer
		enc := yaml.NewEncoder(&b)
		if err := enc.Encode(n); err != nil {
			return nil, err
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
		docs = append(docs, b.String())
	}
	return docs, nil
}
