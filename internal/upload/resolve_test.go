package upload

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestResolveAs: a pushed directory is given under the name it had on the client (a link to its root, made
// once), a single file under its own name; garbage collection removes the link with the tree.
func TestResolveAs(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Limits{})
	src := t.TempDir()
	writeFiles(t, filepath.Join(src, "data"), map[string]string{"d.txt": "delta", "sub/e.txt": "echo"})
	writeFiles(t, src, map[string]string{"one.txt": "single"})
	dir := push(t, ts, filepath.Join(src, "data"), PushOptions{})
	file := push(t, ts, filepath.Join(src, "one.txt"), PushOptions{})

	p, err := ResolveAs(ts.dir, dir, "data")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(p) != "data" {
		t.Errorf("ResolveAs = %s, want a path ending in data", p)
	}
	if b, err := os.ReadFile(filepath.Join(p, "sub", "e.txt")); err != nil || string(b) != "echo" {
		t.Errorf("read through the name: %q, %v", b, err)
	}
	if again, err := ResolveAs(ts.dir, dir, "data"); err != nil || again != p {
		t.Errorf("ResolveAs again = %s, %v; want %s", again, err, p)
	}
	f, err := ResolveAs(ts.dir, file, "ignored")
	if err != nil || filepath.Base(f) != "one.txt" {
		t.Errorf("ResolveAs of a file = %s, %v", f, err)
	}
	for _, bad := range []string{"", "..", "a/b"} {
		if _, err := ResolveAs(ts.dir, dir, bad); err == nil {
			t.Errorf("ResolveAs(%q) accepted", bad)
		}
	}
	if _, err := Collect(context.Background(), ts.dir, nil, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(p); !os.IsNotExist(err) {
		t.Errorf("the name outlived its tree: %v", err)
	}
}
