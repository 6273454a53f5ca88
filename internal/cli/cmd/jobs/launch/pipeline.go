package launch

import (
	"fmt"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/spec"
)

// taskDocuments splits a task file into its tasks' documents, each a task file of its own, for planning: a
// pipeline's first document when it holds only `name` names the pipeline and is no task. An inline command is
// one task with no document. The file was validated first: its errors are the core's to report with positions.
func taskDocuments(ts api.TaskSpec) ([]string, error) {
	if ts.YAML == "" {
		return []string{""}, nil
	}
	docs, err := spec.TaskDocuments(ts.YAML)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ts.FileName, err)
	}
	return docs, nil
}
