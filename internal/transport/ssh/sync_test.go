package ssh

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/testutil/sshhost"
	"github.com/stix-run/stix/internal/transport"
)

func write(t *testing.T, path, content string, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// eachServer runs test against an sshd with the SFTP subsystem and against one without it, where files travel
// as tar streams over exec sessions.
func eachServer(t *testing.T, test func(t *testing.T, tr *Transport, h *sshhost.Host)) {
	for _, tc := range []struct {
		name  string
		start func(testing.TB) *sshhost.Host
	}{{"sftp", sshhost.Start}, {"no-sftp", sshhost.StartWithoutSFTP}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := tc.start(t)
			tr, err := Dial(context.Background(), configFor(t, h))
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			t.Cleanup(func() { tr.Close() })
			test(t, tr, h)
		})
	}
}

func TestSyncManySmallFiles(t *testing.T) {
	t.Parallel()
	eachServer(t, testSyncManySmallFiles)
}

func testSyncManySmallFiles(t *testing.T, tr *Transport, _ *sshhost.Host) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "dst")
	for i := range 1000 {
		write(t, filepath.Join(src, fmt.Sprintf("d%d/f%d", i%10, i)), fmt.Sprint(i), 0o644)
	}
	ctx := context.Background()
	st, err := tr.Sync(ctx, src, dst, transport.SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Copied != 1000 || st.Skipped != 0 {
		t.Fatalf("first sync: %+v, want 1000 copied", st)
	}
	st, err = tr.Sync(ctx, src, dst, transport.SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st != (transport.SyncStats{Skipped: 1000}) {
		t.Fatalf("second sync of an unchanged tree: %+v, want 0 copied, 1000 skipped", st)
	}
	// One changed file (new content and mtime) moves, alone.
	p := filepath.Join(src, "d3/f3")
	write(t, p, "changed", 0o644)
	os.Chtimes(p, time.Now().Add(time.Hour), time.Now().Add(time.Hour))
	st, err = tr.Sync(ctx, src, dst, transport.SyncOptions{})
	if err != nil || st.Copied != 1 || st.Bytes != int64(len("changed")) {
		t.Fatalf("sync after one change: %+v, %v", st, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "d3/f3")); string(b) != "changed" {
		t.Errorf("d3/f3 = %q", b)
	}
}

func TestSyncModesLinksDeletionsIgnore(t *testing.T) {
	t.Parallel()
	eachServer(t, testSyncModesLinksDeletionsIgnore)
}

func testSyncModesLinksDeletionsIgnore(t *testing.T, tr *Transport, _ *sshhost.Host) {
	ctx := context.Background()
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "dst")
	write(t, filepath.Join(src, "run.sh"), "#!/bin/sh\n", 0o750)
	write(t, filepath.Join(src, "secret"), "s", 0o600)
	write(t, filepath.Join(src, "sub/keep.txt"), "k", 0o644)
	write(t, filepath.Join(src, "sub/gone.txt"), "g", 0o644)
	write(t, filepath.Join(src, "build/out.o"), "o", 0o644)
	write(t, filepath.Join(src, ".gitignore"), "build/\n*.log\n", 0o644)
	write(t, filepath.Join(src, "x.log"), "log", 0o644)
	if err := os.Symlink("sub/keep.txt", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(src, "sub"), 0o711)
	if _, err := tr.Sync(ctx, src, dst, transport.SyncOptions{Ignore: true}); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]fs.FileMode{"run.sh": 0o750, "secret": 0o600, "sub": fs.ModeDir | 0o711, "sub/keep.txt": 0o644} {
		fi, err := os.Lstat(filepath.Join(dst, name))
		if err != nil || fi.Mode() != mode {
			t.Errorf("%s: mode %v (%v), want %v", name, fi.Mode(), err, mode)
		}
	}
	if target, err := os.Readlink(filepath.Join(dst, "link")); err != nil || target != "sub/keep.txt" {
		t.Errorf("link -> %q (%v), want sub/keep.txt", target, err)
	}
	for _, ignored := range []string{"build", "x.log"} {
		if _, err := os.Lstat(filepath.Join(dst, ignored)); err == nil {
			t.Errorf("ignored %s was copied", ignored)
		}
	}
	// A file only the destination has: kept without Delete, removed with it; ignored remote files stay.
	write(t, filepath.Join(dst, "remote-only.txt"), "r", 0o644)
	write(t, filepath.Join(dst, "remote.log"), "r", 0o644)
	os.Remove(filepath.Join(src, "sub/gone.txt"))
	st, err := tr.Sync(ctx, src, dst, transport.SyncOptions{Ignore: true})
	if err != nil || st.Deleted != 0 {
		t.Fatalf("sync without Delete: %+v, %v", st, err)
	}
	st, err = tr.Sync(ctx, src, dst, transport.SyncOptions{Ignore: true, Delete: true})
	if err != nil || st.Deleted != 2 || st.Copied != 0 {
		t.Fatalf("sync with Delete: %+v, %v; want 2 deleted, 0 copied", st, err)
	}
	for name, want := range map[string]bool{"remote-only.txt": false, "sub/gone.txt": false, "remote.log": true} {
		if _, err := os.Lstat(filepath.Join(dst, name)); (err == nil) != want {
			t.Errorf("%s exists = %v, want %v", name, err == nil, want)
		}
	}
	// A file that became a directory is replaced.
	os.Remove(filepath.Join(src, "secret"))
	write(t, filepath.Join(src, "secret/inner"), "i", 0o644)
	if _, err := tr.Sync(ctx, src, dst, transport.SyncOptions{Ignore: true}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "secret/inner")); err != nil || string(b) != "i" {
		t.Errorf("secret/inner = %q, %v", b, err)
	}
}

func TestSyncSingleFileAndUpload(t *testing.T) {
	t.Parallel()
	eachServer(t, testSyncSingleFileAndUpload)
}

func testSyncSingleFileAndUpload(t *testing.T, tr *Transport, h *sshhost.Host) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "f")
	write(t, src, "data", 0o640)
	dst := filepath.Join(t.TempDir(), "a/b/f")
	for i, want := range []transport.SyncStats{{Copied: 1, Bytes: 4}, {Skipped: 1}} {
		st, err := tr.Sync(ctx, src, dst, transport.SyncOptions{})
		if err != nil || st != want {
			t.Fatalf("sync %d: %+v, %v; want %+v", i, st, err, want)
		}
	}
	up := filepath.Join(t.TempDir(), "x/y/up")
	if err := tr.Upload(ctx, src, up, 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(up)
	if err != nil || fi.Mode() != 0o600 {
		t.Fatalf("uploaded mode %v (%v), want 0600", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(filepath.Dir(up))
	if len(entries) != 1 {
		t.Errorf("temporary files left next to the upload: %v", entries)
	}
	// "~/" paths land in the login's home.
	if tr.Home() != h.RemoteHome {
		t.Errorf("Home() = %s, want %s", tr.Home(), h.RemoteHome)
	}
	if got := tr.Resolve("~/x"); got != filepath.Join(tr.Home(), "x") {
		t.Errorf("Resolve(~/x) = %s", got)
	}
}
