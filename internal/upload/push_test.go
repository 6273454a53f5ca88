package upload

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPushSendsOnlyMissingBlobs(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Limits{})
	src := t.TempDir()
	writeFiles(t, src, map[string]string{
		"train.py":        "print('train')\n",
		"lib/util.py":     "x = 1\n",
		"lib/copy.py":     "x = 1\n", // same content as util.py: one blob
		"data/big.bin":    strings.Repeat("d", 100_000),
		"out/ckpt.pt":     "ignored",
		"notes.log":       "ignored too",
		".skyignore":      "out/\n*.log\n",
		"lib/.skyignore":  "",
		"empty/.keep":     "",
		"scripts/run.sh":  "#!/bin/sh\necho hi\n",
		"scripts/data.sh": "",
	})
	if err := os.Chmod(filepath.Join(src, "scripts/run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../data/big.bin", filepath.Join(src, "lib/big")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nonexistent/outside", filepath.Join(src, "dangling")); err != nil {
		t.Fatal(err)
	}
	opts := PushOptions{Ignore: true}

	id1 := push(t, ts, src, opts)
	// Every distinct content once: train.py, util.py (= copy.py), big.bin, .skyignore, and the empty content of
	// lib/.skyignore, empty/.keep and scripts/data.sh.
	want := int64(len("print('train')\n") + len("x = 1\n") + 100_000 + len("out/\n*.log\n") + len("#!/bin/sh\necho hi\n"))
	if got := ts.sent(); got != want {
		t.Errorf("first push sent %d blob bytes, want %d", got, want)
	}
	root, err := Resolve(ts.dir, id1)
	if err != nil {
		t.Fatal(err)
	}
	assertSameTree(t, src, root, []string{"out", "notes.log"})

	id2 := push(t, ts, src, opts)
	if got := ts.sent(); got != 0 {
		t.Errorf("unchanged push sent %d blob bytes, want 0", got)
	}
	if id2 != id1 {
		t.Errorf("unchanged push gave tree %s, want %s", id2, id1)
	}

	writeFiles(t, src, map[string]string{"train.py": "print('train v2')\n"})
	id3 := push(t, ts, src, opts)
	if got, want := ts.sent(), int64(len("print('train v2')\n")); got != want {
		t.Errorf("push after one change sent %d blob bytes, want %d", got, want)
	}
	if id3 == id1 {
		t.Error("a changed tree kept its ID")
	}
	root3, err := Resolve(ts.dir, id3)
	if err != nil {
		t.Fatal(err)
	}
	assertSameTree(t, src, root3, []string{"out", "notes.log"})
	// The first tree is still there, unchanged.
	if b, _ := os.ReadFile(filepath.Join(root, "train.py")); string(b) != "print('train')\n" {
		t.Errorf("first tree's train.py = %q after a later push", b)
	}
	if again, err := Resolve(ts.dir, id1); err != nil || again != root {
		t.Errorf("Resolve again = %q, %v; want %q", again, err, root)
	}
}

func TestPushWithoutIgnoreKeepsEverything(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Limits{})
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"a": "a", ".gitignore": "a\n"})
	root, err := Resolve(ts.dir, push(t, ts, src, PushOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	assertSameTree(t, src, root, nil)
}

func TestPushFollowsASymlinkedRoot(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Limits{})
	d := t.TempDir()
	writeFiles(t, filepath.Join(d, "real"), map[string]string{"a/b": "b"})
	if err := os.Symlink("real", filepath.Join(d, "workdir")); err != nil {
		t.Fatal(err)
	}
	root, err := Resolve(ts.dir, push(t, ts, filepath.Join(d, "workdir"), PushOptions{Ignore: true}))
	if err != nil {
		t.Fatal(err)
	}
	assertSameTree(t, filepath.Join(d, "real"), root, nil)
}

func TestPushSingleFile(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Limits{})
	src := filepath.Join(t.TempDir(), "model.cfg")
	writeFiles(t, filepath.Dir(src), map[string]string{"model.cfg": "layers: 3\n"})
	if err := os.Chmod(src, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Resolve(ts.dir, push(t, ts, src, PushOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "layers: 3\n" || fi.Mode() != 0o600 || filepath.Base(p) != "model.cfg" {
		t.Errorf("resolved %s: mode %v content %q", p, fi.Mode(), b)
	}
}

func TestPushLargeFileInChunks(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Limits{})
	src := t.TempDir()
	data := randomBytes(t, 1<<20+123)
	if err := os.WriteFile(filepath.Join(src, "big"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := Resolve(ts.dir, push(t, ts, src, PushOptions{ChunkBytes: 64 << 10}))
	if err != nil {
		t.Fatal(err)
	}
	if got := ts.patches.Load(); got != 17 {
		t.Errorf("%d PATCH requests, want 17 chunks of 64 KiB", got)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "big")); !bytes.Equal(b, data) {
		t.Error("resolved big file differs")
	}
}

func TestPushResumesAfterDroppedConnection(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Limits{})
	proxy := newCuttingProxy(t, ts.srv.Listener.Addr().String(), 1<<20)
	src := t.TempDir()
	data := randomBytes(t, 4<<20)
	if err := os.WriteFile(filepath.Join(src, "weights"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	base := "http://" + proxy.ln.Addr().String() + prefix
	id, err := Push(context.Background(), base, &http.Client{}, src, fastRetries)
	if err != nil {
		t.Fatal(err)
	}
	if !proxy.cut.Load() {
		t.Fatal("the proxy never cut a connection")
	}
	// Resumed, not restarted: the server read every byte exactly once, over more than one request.
	if got := ts.sent(); got != int64(len(data)) {
		t.Errorf("server read %d blob bytes, want %d (each once)", got, len(data))
	}
	if n := ts.patches.Load(); n < 2 {
		t.Errorf("%d PATCH requests; want the cut one and its resumption", n)
	}
	root, err := Resolve(ts.dir, id)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "weights")); !bytes.Equal(b, data) {
		t.Error("resolved file differs from the pushed one")
	}
}

func TestPushGivesUpAfterRetries(t *testing.T) {
	t.Parallel()
	// A server that drops every blob request: Push fails after its retries, with the cause.
	drops := 0
	var mu sync.Mutex
	srv := newDroppingServer(t, func() { mu.Lock(); drops++; mu.Unlock() })
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"a": "abc"})
	opts := fastRetries
	opts.Retries = 2
	_, err := Push(context.Background(), srv+prefix, &http.Client{}, src, opts)
	if err == nil || !strings.Contains(err.Error(), "gave up after 2 retries") {
		t.Fatalf("err = %v, want one that gives up after 2 retries", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if drops != 3 {
		t.Errorf("%d blob requests, want 3 (one and two retries)", drops)
	}
}

func TestConcurrentPushesOfOneTree(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Limits{})
	src := t.TempDir()
	files := map[string]string{"big": string(randomBytes(t, 300_000))}
	for i := range 20 {
		files[filepath.Join("d", string(rune('a'+i)))] = strings.Repeat("x", i)
	}
	writeFiles(t, src, files)
	const n = 8
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ids[i], errs[i] = Push(context.Background(), ts.base, ts.srv.Client(), src,
				PushOptions{ChunkBytes: 16 << 10, Backoff: time.Millisecond})
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("push %d: %q, %v; want %q", i, ids[i], errs[i], ids[0])
		}
	}
	var roots [n]string
	for i := range n {
		wg.Go(func() { roots[i], errs[i] = Resolve(ts.dir, ids[i]) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || roots[i] != roots[0] {
			t.Fatalf("resolve %d: %q, %v", i, roots[i], errs[i])
		}
	}
	assertSameTree(t, src, roots[0], nil)
	if left, _ := os.ReadDir(filepath.Join(ts.dir, "partial")); len(left) != 0 {
		t.Errorf("%d partial blobs left", len(left))
	}
}

func TestTwoServersShareOneStore(t *testing.T) {
	t.Parallel()
	// Two handlers over one directory stand for two server processes: blob locks are file locks, shared.
	a := newTestServer(t, Limits{})
	b := newTestServerIn(t, a.dir, Limits{})
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"big": string(randomBytes(t, 200_000)), "small": "s"})
	const n = 6
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		ts := a
		if i%2 == 1 {
			ts = b
		}
		wg.Go(func() {
			ids[i], errs[i] = Push(context.Background(), ts.base, ts.srv.Client(), src,
				PushOptions{ChunkBytes: 8 << 10, Backoff: time.Millisecond})
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("push %d: %q, %v; want %q", i, ids[i], errs[i], ids[0])
		}
	}
	root, err := Resolve(a.dir, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	assertSameTree(t, src, root, nil)
	if left, _ := os.ReadDir(filepath.Join(a.dir, "partial")); len(left) != 0 {
		t.Errorf("%d partial blobs left", len(left))
	}
}

func TestPushOverLimitsSendsNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		lim   Limits
		files map[string]string
		want  string
	}{
		{"bytes", Limits{MaxTreeBytes: 10, Raise: "raise it with --upload-max-bytes"},
			map[string]string{"a": "0123456789", "b": "x"}, "11 B, over the server's limit of 10 B"},
		{"files", Limits{MaxFiles: 2}, map[string]string{"a": "", "b": "", "c": ""}, "3 files and directories, over the server's limit of 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, tc.lim)
			src := t.TempDir()
			writeFiles(t, src, tc.files)
			_, err := Push(context.Background(), ts.base, ts.srv.Client(), src, PushOptions{})
			var ue *Error
			if !errors.As(err, &ue) || ue.Status != http.StatusRequestEntityTooLarge || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), "bucket") {
				t.Fatalf("err = %v; want a 413 saying %q and suggesting a bucket", err, tc.want)
			}
			if tc.lim.Raise != "" && !strings.Contains(err.Error(), tc.lim.Raise) {
				t.Errorf("err = %v; want it to say how to raise the limit", err)
			}
			if got := ts.sent(); got != 0 {
				t.Errorf("sent %d blob bytes, want 0", got)
			}
			assertEmptyStore(t, ts.dir)
		})
	}
}

// assertSameTree checks that the tree at got holds what the tree at want holds (types, permissions, file
// contents and modification times, symlink targets), less the paths in skipped.
func assertSameTree(t *testing.T, want, got string, skipped []string) {
	t.Helper()
	list := func(root string) map[string]string {
		out := map[string]string{}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || p == root {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			for _, s := range skipped {
				if rel == s {
					if d.IsDir() {
						return filepath.SkipDir
					}
					return nil
				}
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			desc := fi.Mode().String()
			switch {
			case fi.Mode()&fs.ModeSymlink != 0:
				l, _ := os.Readlink(p)
				desc += " -> " + l
			case fi.Mode().IsRegular():
				b, _ := os.ReadFile(p)
				desc += " " + fi.ModTime().UTC().Format(time.RFC3339Nano) + " " + string(b)
			}
			out[rel] = desc
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	w, g := list(want), list(got)
	for p, d := range w {
		if g[p] != d {
			t.Errorf("%s: got %q, want %q", p, g[p], d)
		}
	}
	for p := range g {
		if _, ok := w[p]; !ok {
			t.Errorf("%s: in the resolved tree, not in the source", p)
		}
	}
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPushOfAFileChangedWhileSending(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"a": "before"})
	h := http.StripPrefix(prefix, NewHandler(dir, Limits{}))
	// The file changes after the client hashed it (it asks which blobs are missing) and before it sends it.
	srv := newServerWith(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/missing") {
			writeFiles(t, src, map[string]string{"a": "after!"})
		}
		h.ServeHTTP(w, r)
	})
	_, err := Push(context.Background(), srv+prefix, &http.Client{}, src, PushOptions{})
	var ue *Error
	if !errors.As(err, &ue) || ue.Code != "hash_mismatch" || !strings.Contains(err.Error(), filepath.Join(src, "a")) ||
		!strings.Contains(err.Error(), "changed while it was read") {
		t.Fatalf("err = %v; want a hash mismatch naming the file and saying it changed", err)
	}
	assertEmptyStore(t, dir)
}
