package treesync

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/transport/ignore"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)

func file(p string, size int64) Entry { return Entry{Path: p, Mode: 0o644, Size: size, ModTime: t0} }
func dir(p string) Entry              { return Entry{Path: p, Mode: fs.ModeDir | 0o755} }
func link(p, to string) Entry         { return Entry{Path: p, Mode: fs.ModeSymlink | 0o777, Link: to} }

func paths(es []Entry) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.Path)
	}
	return out
}

func TestDiff(t *testing.T) {
	t.Parallel()
	tree := []Entry{dir("a"), file("a/x", 3), link("a/l", "x"), file("b", 5)}
	exec := file("b", 5)
	exec.Mode = 0o755
	later := file("b", 5)
	later.ModTime = t0.Add(time.Second)
	sameSecond := file("b", 5)
	sameSecond.ModTime = t0.Truncate(time.Second)
	privateDir := dir("a")
	privateDir.Mode = fs.ModeDir | 0o700

	cases := []struct {
		name        string
		src, dst    []Entry
		opts        Options
		mkdir, copy []string
		replace     []string
		del         []string
		skipped     int
		deleted     int
		bytes       int64
	}{
		{name: "empty destination", src: tree, mkdir: []string{"a"}, copy: []string{"a/x", "a/l", "b"}, bytes: 8},
		{name: "unchanged", src: tree, dst: tree, skipped: 3},
		{name: "size changed", src: tree, dst: []Entry{dir("a"), file("a/x", 4), link("a/l", "x"), file("b", 5)},
			copy: []string{"a/x"}, skipped: 2, bytes: 3},
		{name: "mtime changed", src: []Entry{later}, dst: []Entry{file("b", 5)}, copy: []string{"b"}, bytes: 5},
		{name: "mode changed", src: []Entry{exec}, dst: []Entry{file("b", 5)}, copy: []string{"b"}, bytes: 5},
		{name: "dir mode changed", src: []Entry{privateDir}, dst: []Entry{dir("a")}, mkdir: []string{"a"}},
		{name: "symlink target changed", src: []Entry{link("l", "y")}, dst: []Entry{link("l", "x")}, copy: []string{"l"}},
		{name: "second precision", src: []Entry{file("b", 5)}, dst: []Entry{sameSecond},
			opts: Options{TimePrecision: time.Second}, skipped: 1},
		{name: "extras kept without delete", src: []Entry{file("b", 5)},
			dst: []Entry{file("b", 5), dir("old"), file("old/f", 1)}, skipped: 1},
		{name: "extras deleted deepest first", src: []Entry{file("b", 5)},
			dst:  []Entry{dir("old"), dir("old/sub"), file("old/sub/f", 1), file("old/g", 1), file("b", 5)},
			opts: Options{Delete: true}, skipped: 1,
			del: []string{"old/sub/f", "old/sub", "old/g", "old"}, deleted: 2},
		{name: "directory became a file", src: []Entry{file("a", 2)},
			dst:     []Entry{dir("a"), file("a/x", 1), file("a/y", 1)},
			replace: []string{"a"}, copy: []string{"a"}, deleted: 2, bytes: 2},
		{name: "file became a directory", src: []Entry{dir("a"), file("a/x", 1)}, dst: []Entry{file("a", 9)},
			replace: []string{"a"}, mkdir: []string{"a"}, copy: []string{"a/x"}, deleted: 1, bytes: 1},
		{name: "file became a symlink with delete", src: []Entry{link("b", "a")}, dst: []Entry{file("b", 5)},
			opts: Options{Delete: true}, replace: []string{"b"}, copy: []string{"b"}, deleted: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := Diff(tc.src, tc.dst, tc.opts)
			check := func(what string, got, want []string) {
				t.Helper()
				if want == nil {
					want = []string{}
				}
				if got == nil {
					got = []string{}
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %q, want %q", what, got, want)
				}
			}
			check("Mkdir", paths(p.Mkdir), tc.mkdir)
			check("Copy", paths(p.Copy), tc.copy)
			check("Replace", p.Replace, tc.replace)
			check("Delete", paths(p.Delete), tc.del)
			if p.Skipped != tc.skipped || p.Deleted != tc.deleted || p.Bytes != tc.bytes {
				t.Errorf("Skipped, Deleted, Bytes = %d, %d, %d; want %d, %d, %d",
					p.Skipped, p.Deleted, p.Bytes, tc.skipped, tc.deleted, tc.bytes)
			}
		})
	}
}

func TestDiffDoesNotModifyInput(t *testing.T) {
	t.Parallel()
	src := []Entry{dir("z"), file("z/a", 1), file("b", 2)}
	dst := []Entry{dir("old"), file("old/x", 1), file("b", 3)}
	srcCopy, dstCopy := append([]Entry(nil), src...), append([]Entry(nil), dst...)
	Diff(src, dst, Options{Delete: true})
	if !reflect.DeepEqual(src, srcCopy) || !reflect.DeepEqual(dst, dstCopy) {
		t.Fatal("Diff modified its input")
	}
}

func TestScanWithIgnoreFiles(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mk := func(p, content string, mode os.FileMode) {
		t.Helper()
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	mk(".gitignore", "*.o\nbuild/\n/top-only\n", 0o644)
	mk("main.c", "int main;", 0o644)
	mk("main.o", "obj", 0o644)
	mk("top-only", "x", 0o644)
	mk("build/out", "x", 0o644)
	mk("src/top-only", "kept: anchored pattern is for the root only", 0o644)
	mk("src/.gitignore", "!keep.o\n", 0o644)
	mk("src/keep.o", "kept by the nested file", 0o644)
	mk("src/drop.o", "x", 0o644)
	mk("run.sh", "#!/bin/sh", 0o755)
	if err := os.Symlink("main.c", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}

	got, err := Scan(root, ScanOptions{Ignore: ignore.New(ignore.FileFor(root)), ReadIgnoreFiles: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".gitignore", "link", "main.c", "run.sh", "src", "src/.gitignore", "src/keep.o", "src/top-only"}
	if !reflect.DeepEqual(paths(got), want) {
		t.Fatalf("Scan = %q, want %q", paths(got), want)
	}
	byPath := map[string]Entry{}
	for _, e := range got {
		byPath[e.Path] = e
	}
	if e := byPath["link"]; !e.IsLink() || e.Link != "main.c" {
		t.Errorf("link entry = %+v, want a symlink to main.c", e)
	}
	if e := byPath["run.sh"]; e.Mode != 0o755 || e.Size != int64(len("#!/bin/sh")) {
		t.Errorf("run.sh entry = %+v, want mode 0755 and its size", e)
	}
	if e := byPath["src"]; !e.IsDir() {
		t.Errorf("src entry = %+v, want a directory", e)
	}

	if _, err := Scan(filepath.Join(root, "main.c"), ScanOptions{}); err == nil {
		t.Error("Scan of a file: want an error")
	}
	if _, err := Scan(filepath.Join(root, "missing"), ScanOptions{}); err == nil {
		t.Error("Scan of a missing directory: want an error")
	}
}

func TestScanSourceFollowsASymlinkedRoot(t *testing.T) {
	t.Parallel()
	d := t.TempDir()
	if err := os.MkdirAll(filepath.Join(d, "real", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "real", "sub", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(d, "link")); err != nil {
		t.Fatal(err)
	}
	s, err := ScanSource(filepath.Join(d, "link"), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(s.Tree); !reflect.DeepEqual(got, []string{"sub", "sub/f"}) {
		t.Errorf("tree of a symlinked root = %v, want its target's contents", got)
	}
}
