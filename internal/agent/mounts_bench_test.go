package agent

import (
	"context"
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BenchmarkMountRead reads one large file (256 MiB) from MinIO on loopback: through a MOUNT (rclone, streaming),
// downloaded whole by COPY (storage.Download) and by `rclone copyto`, and from the local disk (page cache warm:
// the ceiling). MB/s is the figure (docs/storage-mounts.md).
//
//	go test ./internal/agent -run '^$' -bench MountRead -benchtime 3x
func BenchmarkMountRead(b *testing.B) {
	requireFUSE(b)
	const size = 256 << 20
	s := startMinIO(b)
	s.makeBucket(b, "big")
	local := filepath.Join(b.TempDir(), "blob")
	f, err := os.Create(local)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		b.Fatal(err)
	}
	f.Close()
	up := exec.Command("rclone", "copyto", local, "stix:big/blob")
	up.Env = rcloneEnv(s.mount("", MountModeMount, "big", ""), "u", "p")
	if out, err := up.CombinedOutput(); err != nil {
		b.Fatalf("upload: %v: %s", err, out)
	}
	readAll := func(b *testing.B, p string) {
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if n, err := io.Copy(io.Discard, f); err != nil || n != size {
			b.Fatalf("read %s: %d bytes, %v", p, n, err)
		}
	}
	b.Run("local-disk", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			readAll(b, local)
		}
	})
	b.Run("MOUNT", func(b *testing.B) {
		a := startAgent(b, "127.0.0.1", nil)
		if _, err := a.client.Mount(context.Background(), MountsRequest{Mounts: []Mount{s.mount("~/m", MountModeMount, "big", "")}}); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(size)
		for b.Loop() {
			readAll(b, filepath.Join(a.dir, "m", "blob"))
		}
	})
	b.Run("COPY", func(b *testing.B) {
		dst := filepath.Join(b.TempDir(), "copy")
		b.SetBytes(size)
		for b.Loop() {
			if err := os.RemoveAll(dst); err != nil { // Download keeps files that are there already
				b.Fatal(err)
			}
			if err := copyBucket(context.Background(), s.mount("", MountModeCopy, "big", ""), dst); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rclone-copy", func(b *testing.B) {
		dst := b.TempDir()
		b.SetBytes(size)
		for b.Loop() {
			cmd := exec.Command("rclone", "copyto", "stix:big/blob", filepath.Join(dst, "blob"), "--ignore-times")
			cmd.Env = rcloneEnv(s.mount("", MountModeMount, "big", ""), "u", "p")
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("download: %v: %s", err, out)
			}
		}
	})
}
