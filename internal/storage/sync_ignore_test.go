package storage

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestUploadIgnore: with Sync.Ignore a directory source leaves out what its .skyignore files say (nested ones
// too), or its .gitignore files when it has no .skyignore; without it, everything goes.
func TestUploadIgnore(t *testing.T) {
	t.Parallel()
	write := func(root string, files map[string]string) {
		for name, body := range files {
			p := filepath.Join(root, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	keys := func(s Sync, sources ...string) []string {
		files, err := s.collect("pre/", sources, &Stats{}) // Upload passes a normalised prefix
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range files {
			out = append(out, f.key)
		}
		return out
	}
	sky := t.TempDir()
	write(sky, map[string]string{".skyignore": "secret.txt\nbuild/\n", ".gitignore": "main.py\n", "main.py": "1",
		"secret.txt": "s", "build/out": "o", "sub/.skyignore": "*.log\n", "sub/a.log": "l", "sub/a.txt": "t"})
	if got, want := keys(Sync{Ignore: true}, sky), []string{"pre/.gitignore", "pre/.skyignore", "pre/main.py", "pre/sub/.skyignore", "pre/sub/a.txt"}; !slices.Equal(got, want) {
		t.Errorf(".skyignore: keys %v, want %v", got, want)
	}
	if got := keys(Sync{}, sky); len(got) != 8 {
		t.Errorf("without Ignore: keys %v, want all 8 files", got)
	}
	git := t.TempDir()
	write(git, map[string]string{".gitignore": "*.pyc\n", "a.py": "1", "a.pyc": "2"})
	if got, want := keys(Sync{Ignore: true}, git), []string{"pre/.gitignore", "pre/a.py"}; !slices.Equal(got, want) {
		t.Errorf(".gitignore: keys %v, want %v", got, want)
	}
	// several sources: each directory under its own name, each with its own ignore files
	if got, want := keys(Sync{Ignore: true}, git, filepath.Join(sky, "sub")), []string{"pre/" + filepath.Base(git) + "/.gitignore", "pre/" + filepath.Base(git) + "/a.py", "pre/sub/.skyignore", "pre/sub/a.txt"}; !slices.Equal(got, want) {
		t.Errorf("two sources: keys %v, want %v", got, want)
	}
}
