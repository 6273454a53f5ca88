package ignore

import (
	"os"
	"path/filepath"
	"testing"
)

func TestIgnored(t *testing.T) {
	t.Parallel()
	type probe struct {
		path  string
		isDir bool
		want  bool
	}
	cases := []struct {
		name     string
		patterns string
		probes   []probe
	}{
		{"basename at any depth", "*.log\n", []probe{
			{"a.log", false, true}, {"x/y/a.log", false, true}, {"a.txt", false, false}, {"logs", true, false},
		}},
		{"comments and blanks", "# *.go\n\n   \nkeep\n", []probe{
			{"main.go", false, false}, {"keep", false, true},
		}},
		{"directory only", "build/\n", []probe{
			{"build", true, true}, {"build", false, false}, {"src/build", true, true},
		}},
		{"anchored with leading slash", "/out\n", []probe{
			{"out", true, true}, {"src/out", true, false},
		}},
		{"anchored by inner slash", "docs/*.md\n", []probe{
			{"docs/a.md", false, true}, {"x/docs/a.md", false, false}, {"docs/sub/a.md", false, false},
		}},
		{"negation, last match wins", "*.txt\n!keep.txt\n", []probe{
			{"a.txt", false, true}, {"keep.txt", false, false}, {"d/keep.txt", false, false},
		}},
		{"negation then re-ignore", "!a.txt\n*.txt\n", []probe{{"a.txt", false, true}}},
		{"leading double star", "**/cache\n", []probe{
			{"cache", true, true}, {"a/b/cache", true, true}, {"a/cachex", true, false},
		}},
		{"trailing double star", "data/**\n", []probe{
			{"data", true, false}, {"data/x", false, true}, {"data/a/b", false, true},
		}},
		{"inner double star", "a/**/z\n", []probe{
			{"a/z", false, true}, {"a/b/c/z", false, true}, {"b/a/z", false, false},
		}},
		{"character class and ?", "file[0-9].?\n", []probe{
			{"file1.c", false, true}, {"fileA.c", false, false}, {"file1.cc", false, false},
		}},
		{"escaped hash and bang", "\\#tmp\n\\!x\n", []probe{{"#tmp", false, true}, {"!x", false, true}}},
		{"trailing spaces trimmed", "a.txt   \n", []probe{{"a.txt", false, true}}},
		{"malformed glob ignored", "[\nb\n", []probe{{"[", false, false}, {"b", false, true}}},
		{"root never ignored", "*\n", []probe{{"", true, false}, {"x", false, true}}},
		{"crlf line endings", "a.txt\r\nb.txt\r\n", []probe{{"a.txt", false, true}, {"b.txt", false, true}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := New(GitIgnore)
			m.Add("", []byte(tc.patterns))
			for _, p := range tc.probes {
				if got := m.Ignored(p.path, p.isDir); got != p.want {
					t.Errorf("Ignored(%q, dir=%v) = %v, want %v (patterns %q)", p.path, p.isDir, got, p.want, tc.patterns)
				}
			}
		})
	}
}

func TestNestedFilesOverrideParents(t *testing.T) {
	t.Parallel()
	m := New(GitIgnore)
	m.Add("", []byte("*.bin\n/top.txt\n"))
	m.Add("sub", []byte("!keep.bin\n/local.txt\n"))
	for _, p := range []struct {
		path string
		want bool
	}{
		{"a.bin", true},
		{"sub/keep.bin", false}, // the deeper file re-includes
		{"keep.bin", true},      // but only below its own directory
		{"sub/other.bin", true},
		{"top.txt", true},
		{"sub/top.txt", false},
		{"sub/local.txt", true}, // anchored to sub/
		{"local.txt", false},
		{"other/sub/local.txt", false},
	} {
		if got := m.Ignored(p.path, false); got != p.want {
			t.Errorf("Ignored(%q) = %v, want %v", p.path, got, p.want)
		}
	}
}

func TestNilAndEmptyMatcher(t *testing.T) {
	t.Parallel()
	var m *Matcher
	if m.Ignored("x", false) {
		t.Error("nil matcher ignored a path")
	}
	if (&Matcher{}).Ignored("x", true) {
		t.Error("empty matcher ignored a path")
	}
}

func TestFileForAndAddFile(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if got := FileFor(root); got != GitIgnore {
		t.Fatalf("FileFor(empty dir) = %q, want %q", got, GitIgnore)
	}
	write(t, filepath.Join(root, GitIgnore), "*.git-ignored\n")
	write(t, filepath.Join(root, SkyIgnore), "*.sky-ignored\n")
	if got := FileFor(root); got != SkyIgnore {
		t.Fatalf("FileFor = %q, want %q", got, SkyIgnore)
	}
	m := New(FileFor(root))
	if err := m.AddFile(root, ""); err != nil {
		t.Fatal(err)
	}
	if err := m.AddFile(root, "missing-dir"); err != nil {
		t.Fatalf("AddFile of a directory without an ignore file: %v", err)
	}
	if !m.Ignored("x.sky-ignored", false) || m.Ignored("x.git-ignored", false) {
		t.Error(".skyignore must replace .gitignore when both exist")
	}
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
