package api_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stix-run/stix/api"
)

// TestConfigLayersRead: the project file (.stix.yaml, else .sky.yaml) and each --config value are read from disk
// as the client names them; a value that is not a file (pairs, a directory) travels as text; paths are cleared.
func TestConfigLayersRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, text := range map[string]string{".sky.yaml": "a: 1\n", "ci.yaml": "b: 2\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ci := filepath.Join(dir, "ci.yaml")
	got, err := api.ConfigLayers{Args: []string{ci, "c=3", dir}, Dir: dir}.Read()
	if err != nil {
		t.Fatal(err)
	}
	want := api.ConfigLayers{Project: &api.ConfigText{File: filepath.Join(dir, ".sky.yaml"), Text: "a: 1\n"},
		Layers: []api.ConfigText{{File: ci, Text: "b: 2\n"}, {Text: "c=3"}, {Text: dir}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Read() = %+v, want %+v", got, want)
	}
	// .stix.yaml wins over .sky.yaml.
	if err := os.WriteFile(filepath.Join(dir, ".stix.yaml"), []byte("d: 4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := (api.ConfigLayers{Dir: dir}).Read(); err != nil || got.Project == nil || got.Project.Text != "d: 4\n" {
		t.Errorf("with .stix.yaml: %+v, %v", got.Project, err)
	}
}
