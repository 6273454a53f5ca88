package spec

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Every task of the public corpus survives YAMLConfig and Load: what stix sends to an admin policy server is the
// task it read, in the shape SkyPilot writes, and what comes back unchanged is the same task.
func TestYAMLConfigRoundTripsTheCorpus(t *testing.T) {
	root, files := corpusFiles(t)
	for _, rel := range files {
		if templatedFiles[rel] {
			continue
		}
		p, err := LoadFile(filepath.Join(root, rel), LoadOptions{})
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		for i, task := range p.Tasks {
			m, err := task.YAMLConfig()
			if err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			text, err := yaml.Marshal(m)
			if err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			back, err := Load("encoded.yaml", text, LoadOptions{})
			if err != nil {
				t.Errorf("%s task %d: the encoded task does not read back: %v\n%s", rel, i, err, text)
				continue
			}
			if got, want := comparable(t, back.Tasks[0]), comparable(t, task); got != want {
				t.Errorf("%s task %d: read back differs\n got %s\nwant %s\nencoded:\n%s", rel, i, got, want, text)
			}
		}
	}
}

// comparable renders what a task means: its fields, with file mounts in destination order (a mapping in the
// file) and its resources as the candidates they expand to (a set's in name order).
func comparable(t *testing.T, task *Task) string {
	c := *task
	c.FileMounts = slices.Clone(task.FileMounts)
	slices.SortFunc(c.FileMounts, func(a, b FileMount) int { return strings.Compare(a.Dest, b.Dest) })
	cands, ordered := task.Resources.Candidates()
	if !ordered { // any of them: the order of a set is not kept, nor meant
		slices.SortFunc(cands, func(a, b *Resources) int { return strings.Compare(a.Accelerators.String(), b.Accelerators.String()) })
	}
	c.Resources = nil
	b, err := json.Marshal(struct {
		Task       *Task
		Candidates []*Resources
		Ordered    bool
	}{&c, cands, ordered})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
