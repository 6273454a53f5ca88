package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/transport"
)

// workdir builds a source tree with ignore rules, a symlink, an executable and a private directory.
func workdir(t testing.TB) string {
	t.Helper()
	src := t.TempDir()
	writeFile(t, filepath.Join(src, ".gitignore"), "*.pyc\n/data/\n", 0o644)
	writeFile(t, filepath.Join(src, "train.py"), "print('hi')", 0o644)
	writeFile(t, filepath.Join(src, "train.pyc"), "bytecode", 0o644)
	writeFile(t, filepath.Join(src, "run.sh"), "#!/bin/sh", 0o755)
	writeFile(t, filepath.Join(src, "data/big.bin"), "big", 0o644)
	writeFile(t, filepath.Join(src, "pkg/data/small.txt"), "kept: /data/ is anchored", 0o644)
	writeFile(t, filepath.Join(src, "secret/key"), "k", 0o600)
	if err := os.Chmod(filepath.Join(src, "secret"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("train.py", filepath.Join(src, "main.py")); err != nil {
		t.Fatal(err)
	}
	return src
}

func TestSyncTree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := workdir(t)
	tr := newNode(t)
	dst := filepath.Join(tr.Home(), "sky_workdir")

	st, err := tr.Sync(ctx, src, "~/sky_workdir", transport.SyncOptions{Ignore: true})
	if err != nil {
		t.Fatal(err)
	}
	// .gitignore, train.py, run.sh, pkg/data/small.txt, secret/key, main.py
	if want := (transport.SyncStats{Copied: 6, Bytes: int64(len("*.pyc\n/data/\n") + 11 + 9 + 24 + 1)}); st != want {
		t.Errorf("first sync stats = %+v, want %+v", st, want)
	}
	want := []string{
		".gitignore -rw-r--r-- *.pyc\n/data/\n",
		"main.py Lrwxrwxrwx -> train.py",
		"pkg drwxr-xr-x",
		"pkg/data drwxr-xr-x",
		"pkg/data/small.txt -rw-r--r-- kept: /data/ is anchored",
		"run.sh -rwxr-xr-x #!/bin/sh",
		"secret drwx------",
		"secret/key -rw------- k",
		"train.py -rw-r--r-- print('hi')",
	}
	if got := listTree(t, dst); !reflect.DeepEqual(got, want) {
		t.Errorf("synced tree:\n%q\nwant\n%q", got, want)
	}

	st, err = tr.Sync(ctx, src, "~/sky_workdir", transport.SyncOptions{Ignore: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := (transport.SyncStats{Skipped: 6}); st != want {
		t.Errorf("second sync of an unchanged tree = %+v, want %+v", st, want)
	}

	// A same-size edit moves only that file: the time differs.
	writeFile(t, filepath.Join(src, "train.py"), "print('yo')", 0o644)
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(src, "train.py"), later, later); err != nil {
		t.Fatal(err)
	}
	st, err = tr.Sync(ctx, src, "~/sky_workdir", transport.SyncOptions{Ignore: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := (transport.SyncStats{Copied: 1, Skipped: 5, Bytes: 11}); st != want {
		t.Errorf("sync after one edit = %+v, want %+v", st, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "train.py")); string(b) != "print('yo')" {
		t.Errorf("edited file on the node = %q", b)
	}
}

func TestSyncDeletion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := workdir(t)
	tr := newNode(t)
	dst := filepath.Join(tr.Home(), "wd")
	if _, err := tr.Sync(ctx, src, dst, transport.SyncOptions{Ignore: true}); err != nil {
		t.Fatal(err)
	}
	// Files the node made itself that the ignore rules cover survive a mirrored delete.
	writeFile(t, filepath.Join(dst, "cache.pyc"), "node-made", 0o644)
	writeFile(t, filepath.Join(dst, "data/out.bin"), "node-made", 0o644)
	if err := os.RemoveAll(filepath.Join(src, "pkg")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(src, "run.sh")); err != nil {
		t.Fatal(err)
	}

	st, err := tr.Sync(ctx, src, dst, transport.SyncOptions{Ignore: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.Deleted != 0 || !exists(filepath.Join(dst, "run.sh")) {
		t.Errorf("sync without Delete removed files: %+v", st)
	}

	st, err = tr.Sync(ctx, src, dst, transport.SyncOptions{Ignore: true, Delete: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := (transport.SyncStats{Skipped: 4, Deleted: 2}); st != want {
		t.Errorf("mirrored delete = %+v, want %+v", st, want)
	}
	for p, want := range map[string]bool{
		"run.sh": false, "pkg": false, "train.py": true, "cache.pyc": true, "data/out.bin": true,
	} {
		if got := exists(filepath.Join(dst, p)); got != want {
			t.Errorf("%s exists = %v, want %v", p, got, want)
		}
	}
}

func TestSyncTypeChangesAndNoIgnore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := t.TempDir()
	tr := newNode(t)
	writeFile(t, filepath.Join(src, ".gitignore"), "*.log\n", 0o644)
	writeFile(t, filepath.Join(src, "a/x"), "1", 0o644)
	writeFile(t, filepath.Join(src, "b"), "2", 0o644)
	writeFile(t, filepath.Join(src, "run.log"), "3", 0o644)
	if st, err := tr.Sync(ctx, src, "out", transport.SyncOptions{}); err != nil || st.Copied != 4 {
		t.Fatalf("sync without ignore rules = %+v, %v; want 4 files copied", st, err)
	}
	// a becomes a file, b becomes a directory.
	if err := os.RemoveAll(filepath.Join(src, "a")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(src, "a"), "now a file", 0o644)
	if err := os.Remove(filepath.Join(src, "b")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(src, "b/y"), "now a dir", 0o644)
	st, err := tr.Sync(ctx, src, "out", transport.SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (transport.SyncStats{Copied: 2, Skipped: 2, Deleted: 2, Bytes: 19}); st != want {
		t.Errorf("sync with type changes = %+v, want %+v", st, want)
	}
	dst := filepath.Join(tr.Home(), "out")
	want := []string{
		".gitignore -rw-r--r-- *.log\n", "a -rw-r--r-- now a file", "b drwxr-xr-x", "b/y -rw-r--r-- now a dir", "run.log -rw-r--r-- 3",
	}
	if got := listTree(t, dst); !reflect.DeepEqual(got, want) {
		t.Errorf("tree = %q, want %q", got, want)
	}
}

func TestSyncSingleFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tr := newNode(t)
	src := filepath.Join(t.TempDir(), "bashrc")
	writeFile(t, src, "alias k=kubectl", 0o640)
	for i, want := range []transport.SyncStats{{Copied: 1, Bytes: 15}, {Skipped: 1}} {
		st, err := tr.Sync(ctx, src, "~/.config/bashrc", transport.SyncOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st != want {
			t.Errorf("sync #%d of one file = %+v, want %+v", i+1, st, want)
		}
	}
	fi, err := os.Stat(filepath.Join(tr.Home(), ".config/bashrc"))
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("synced file: %v, %v; want mode 0640", fi, err)
	}
}

func TestSyncNeverCopiesItsOwnOutput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := t.TempDir()
	// The node lives inside the source tree, as when the workdir is the user's home and nodes are under ~/.stix.
	tr, err := New(Options{Home: filepath.Join(base, ".stix/local/c/node-0"), Exclude: []string{filepath.Join(base, ".stix/local")}})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(base, "code.py"), "x", 0o644)
	writeFile(t, filepath.Join(base, ".stix/local/c/node-1/other"), "another node", 0o644)
	for i := 0; i < 2; i++ {
		st, err := tr.Sync(ctx, base, "~/sky_workdir", transport.SyncOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st.Copied+st.Skipped != 1 {
			t.Errorf("sync #%d = %+v; want only code.py", i+1, st)
		}
	}
	if _, err := tr.Sync(ctx, filepath.Join(tr.Home(), "sky_workdir"), "~", transport.SyncOptions{Delete: true}); err == nil {
		t.Error("sync of a directory into one of its parents: want an error")
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// BenchmarkSync1000Files measures a first sync of 1000 files in 10 directories and a no-op resync.
func BenchmarkSync1000Files(b *testing.B) {
	src := b.TempDir()
	for i := 0; i < 1000; i++ {
		writeFile(b, filepath.Join(src, fmt.Sprintf("d%d/f%03d.txt", i%10, i)), fmt.Sprintf("content %d\n", i), 0o644)
	}
	ctx := context.Background()
	b.Run("first", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			tr := newNode(b)
			if st, err := tr.Sync(ctx, src, "~/wd", transport.SyncOptions{Ignore: true}); err != nil || st.Copied != 1000 {
				b.Fatalf("%+v, %v", st, err)
			}
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		tr := newNode(b)
		if _, err := tr.Sync(ctx, src, "~/wd", transport.SyncOptions{Ignore: true}); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if st, err := tr.Sync(ctx, src, "~/wd", transport.SyncOptions{Ignore: true}); err != nil || st.Skipped != 1000 {
				b.Fatalf("%+v, %v", st, err)
			}
		}
	})
}
