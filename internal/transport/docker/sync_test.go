package docker_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/transport"
)

// remoteTree describes the tree under dir in the container: one line per entry, sorted, with type, mode and
// content or link target.
const remoteTree = `cd "$1" && find . -mindepth 1 | sort | while IFS= read -r p; do
  if [ -L "$p" ]; then echo "${p#./} L -> $(readlink "$p")"
  elif [ -d "$p" ]; then echo "${p#./} $(stat -c %A "$p")"
  else echo "${p#./} $(stat -c %A "$p") $(cat "$p")"; fi
done`

func tree(t *testing.T, tr transport.Transport, dir string) string {
	t.Helper()
	return output(t, tr, fmt.Sprintf("set -- %q; %s", dir, remoteTree))
}

func TestSyncTree(t *testing.T) {
	t.Parallel()
	tr := node(t)
	ctx := context.Background()
	src := t.TempDir()
	writeFile(t, filepath.Join(src, ".gitignore"), "*.pyc\n/data/\n", 0o644)
	writeFile(t, filepath.Join(src, "train.py"), "print('hi')", 0o644)
	writeFile(t, filepath.Join(src, "train.pyc"), "bytecode", 0o644)
	writeFile(t, filepath.Join(src, "run.sh"), "#!/bin/sh", 0o755)
	writeFile(t, filepath.Join(src, "data/big.bin"), "big", 0o644)
	writeFile(t, filepath.Join(src, "pkg/data/small.txt"), "kept", 0o644)
	writeFile(t, filepath.Join(src, "secret/key"), "k", 0o600)
	if err := os.Chmod(filepath.Join(src, "secret"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("train.py", filepath.Join(src, "main.py")); err != nil {
		t.Fatal(err)
	}

	st, err := tr.Sync(ctx, src, "~/sky_workdir", transport.SyncOptions{Ignore: true, Delete: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := (transport.SyncStats{Copied: 6, Bytes: int64(len("*.pyc\n/data/\n") + 11 + 9 + 4 + 1)}); st != want {
		t.Errorf("first sync: %+v, want %+v", st, want)
	}
	want := strings.Join([]string{
		".gitignore -rw-r--r-- *.pyc\n/data/",
		"main.py L -> train.py",
		"pkg drwxr-xr-x",
		"pkg/data drwxr-xr-x",
		"pkg/data/small.txt -rw-r--r-- kept",
		"run.sh -rwxr-xr-x #!/bin/sh",
		"secret drwx------",
		"secret/key -rw------- k",
		"train.py -rw-r--r-- print('hi')",
	}, "\n") + "\n"
	if got := tree(t, tr, "/root/sky_workdir"); got != want {
		t.Fatalf("remote tree:\n%s\nwant:\n%s", got, want)
	}

	st, err = tr.Sync(ctx, src, "~/sky_workdir", transport.SyncOptions{Ignore: true, Delete: true})
	if err != nil || st != (transport.SyncStats{Skipped: 6}) {
		t.Fatalf("resync of an unchanged tree: %+v, %v; want 6 skipped, nothing copied", st, err)
	}

	// An ignored file on the node survives --delete; a changed file, a new mode, a file that became a
	// directory and a removed file all arrive.
	output(t, tr, "echo cache > ~/sky_workdir/x.pyc")
	writeFile(t, filepath.Join(src, "train.py"), "print('bye')", 0o644)
	if err := os.Chmod(filepath.Join(src, "run.sh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(src, "main.py")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(src, "main.py", "inner"), "now a dir", 0o644)
	if err := os.RemoveAll(filepath.Join(src, "secret")); err != nil {
		t.Fatal(err)
	}
	st, err = tr.Sync(ctx, src, "~/sky_workdir", transport.SyncOptions{Ignore: true, Delete: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := (transport.SyncStats{Copied: 3, Skipped: 2, Deleted: 2, Bytes: 12 + 9 + 9}); st != want {
		t.Errorf("sync of changes: %+v, want %+v", st, want)
	}
	want = strings.Join([]string{
		".gitignore -rw-r--r-- *.pyc\n/data/",
		"main.py drwxr-xr-x",
		"main.py/inner -rw-r--r-- now a dir",
		"pkg drwxr-xr-x",
		"pkg/data drwxr-xr-x",
		"pkg/data/small.txt -rw-r--r-- kept",
		"run.sh -rwx------ #!/bin/sh",
		"train.py -rw-r--r-- print('bye')",
		"x.pyc -rw-r--r-- cache",
	}, "\n") + "\n"
	if got := tree(t, tr, "/root/sky_workdir"); got != want {
		t.Fatalf("remote tree after changes:\n%s\nwant:\n%s", got, want)
	}
}

func TestSyncManyFiles(t *testing.T) {
	t.Parallel()
	tr := node(t)
	ctx := context.Background()
	src := t.TempDir()
	for i := range 1000 {
		writeFile(t, filepath.Join(src, fmt.Sprintf("d%d/f%03d.txt", i%10, i)), fmt.Sprint(i), 0o644)
	}
	start := time.Now()
	st, err := tr.Sync(ctx, src, "/srv/many", transport.SyncOptions{})
	if err != nil || st.Copied != 1000 {
		t.Fatalf("first sync: %+v, %v", st, err)
	}
	first := time.Since(start)
	start = time.Now()
	st, err = tr.Sync(ctx, src, "/srv/many", transport.SyncOptions{})
	if err != nil || st != (transport.SyncStats{Skipped: 1000}) {
		t.Fatalf("second sync: %+v, %v; want 1000 skipped, nothing copied", st, err)
	}
	t.Logf("1000 files: first sync %v, resync %v", first, time.Since(start))
	if got := output(t, tr, "find /srv/many -type f | wc -l; cat /srv/many/d7/f537.txt"); got != "1000\n537" {
		t.Fatalf("remote: %q", got)
	}
}

func TestSyncFile(t *testing.T) {
	t.Parallel()
	tr := node(t)
	ctx := context.Background()
	f := filepath.Join(t.TempDir(), "conf.yaml")
	writeFile(t, f, "a: 1\n", 0o600)
	for i, want := range []transport.SyncStats{{Copied: 1, Bytes: 5}, {Skipped: 1}} {
		st, err := tr.Sync(ctx, f, "~/conf/conf.yaml", transport.SyncOptions{})
		if err != nil || st != want {
			t.Fatalf("sync %d: %+v, %v; want %+v", i, st, err, want)
		}
	}
	if got := output(t, tr, "stat -c %A conf/conf.yaml; cat conf/conf.yaml"); got != "-rw-------\na: 1\n" {
		t.Fatalf("remote file: %q", got)
	}
	if _, err := tr.Sync(ctx, f, "~/conf", transport.SyncOptions{}); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("sync of a file onto a directory: %v", err)
	}
	if _, err := tr.Sync(ctx, t.TempDir(), "~/conf/conf.yaml", transport.SyncOptions{}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("sync of a directory onto a file: %v", err)
	}
}
