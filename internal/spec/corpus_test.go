package spec

import (
	"errors"
	"github.com/stix-run/stix/internal/testutil"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// templatedFiles are the corpus files whose Jinja {{placeholders}} make them invalid YAML as stored; SkyPilot's
// tests render them before use (see shared/compat/README.md).
var templatedFiles = map[string]bool{
	"tests/test_yamls/test_ibm_cos_storage_mounting.yaml": true,
	"tests/test_yamls/test_nebius_storage_mounting.yaml":  true,
	"tests/test_yamls/test_r2_storage_mounting.yaml":      true,
	"tests/test_yamls/test_rclone_mount.yaml":             true,
}

// corpusDir finds ../shared/compat/skypilot-yamls next to the module root.
func corpusDir(t testing.TB) string {
	t.Helper()
	return testutil.SharedDir(t, "compat/skypilot-yamls")
}

// corpusFiles lists every file of the corpus, relative to it, in a stable order.
func corpusFiles(t testing.TB) (string, []string) {
	root := corpusDir(t)
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, path)
		files = append(files, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("the conformance corpus at %s is empty", root)
	}
	return root, files
}

func TestConformanceCorpus(t *testing.T) {
	root, files := corpusFiles(t)
	passed := 0
	for _, rel := range files {
		p, err := LoadFile(filepath.Join(root, rel), LoadOptions{})
		if templatedFiles[rel] {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 || !strings.HasPrefix(list[0].Message, yamlErrorPrefix) {
				t.Errorf("%s: want a YAML error (Jinja placeholders), got %v", rel, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		if len(p.Tasks) == 0 {
			t.Errorf("%s: no tasks", rel)
			continue
		}
		passed++
	}
	t.Logf("conformance corpus: %d of %d files valid; %d templated files rejected as invalid YAML, as expected",
		passed, len(files), len(templatedFiles))
	if want := len(files) - len(templatedFiles); passed != want {
		t.Errorf("%d files valid, want %d", passed, want)
	}
}
