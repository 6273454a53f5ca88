package storage_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/storage"
	"github.com/stix-run/stix/internal/storage/s3"
	"github.com/stix-run/stix/internal/testutil/storagetest"
)

// BenchmarkUpload uploads a tree of 1000 files / 1 GB (with -short: 200 files / 100 MB) to MinIO with stix's
// Upload and with `rclone copy`, each at 16 transfers at once, into fresh buckets ("first"), then again with
// nothing changed ("unchanged": every file hashed again; "unchanged-hashcache": with Sync.HashCache, files whose
// stat did not change are not read). Four files of the full tree are 100 MB, so the multipart path is in it. Run:
//
//	go test ./internal/storage -run '^$' -bench Upload -benchtime 1x [-short]
//
// Results and the ratios to rclone are in BENCHMARKS.md ("Storage").
func BenchmarkUpload(b *testing.B) {
	srv := storagetest.MinIO(b)
	files, big, total := 1000, 4, int64(1000<<20)
	if testing.Short() {
		files, big, total = 200, 0, 100<<20
	}
	src := makeTree(b, files, big, total)
	c, err := s3.New(s3.Config{Endpoint: storage.Endpoint{URL: srv.URL, Region: srv.Region},
		Credentials: s3.Static{AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	sy := storage.Sync{Workers: 16}
	n := 0
	fresh := func(b *testing.B) string {
		n++
		bucket := fmt.Sprintf("bench-%d", n)
		if err := c.CreateBucket(ctx, bucket); err != nil {
			b.Fatal(err)
		}
		return bucket
	}
	stix := func(b *testing.B, bucket string) {
		if _, err := sy.Upload(ctx, c, bucket, "", src); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("stix/first", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			b.StopTimer()
			bucket := fresh(b)
			b.StartTimer()
			stix(b, bucket)
		}
	})
	b.Run("stix/unchanged", func(b *testing.B) {
		bucket := fresh(b)
		stix(b, bucket)
		b.SetBytes(total)
		for b.Loop() {
			st, err := sy.Upload(ctx, c, bucket, "", src)
			if err != nil || st.Transferred != 0 {
				b.Fatalf("unchanged upload sent %d files (%v)", st.Transferred, err)
			}
		}
	})

	b.Run("stix/unchanged-hashcache", func(b *testing.B) {
		bucket := fresh(b)
		cached := storage.Sync{Workers: 16, HashCache: filepath.Join(b.TempDir(), "hashes.json")}
		if _, err := cached.Upload(ctx, c, bucket, "", src); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(total)
		for b.Loop() {
			st, err := cached.Upload(ctx, c, bucket, "", src)
			if err != nil || st.Transferred != 0 {
				b.Fatalf("unchanged upload sent %d files (%v)", st.Transferred, err)
			}
		}
	})

	rclone, err := exec.LookPath("rclone")
	if err != nil {
		b.Log("no rclone on PATH: the comparison is left out")
		return
	}
	conf := filepath.Join(b.TempDir(), "rclone.conf")
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		b.Fatal(err)
	}
	// The AWS SDK under rclone cannot take AWS_CA_BUNDLE with rclone's transport; the server is plain HTTP anyway.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	env = append(env, "RCLONE_CONFIG="+conf, "RCLONE_CONFIG_M_TYPE=s3", "RCLONE_CONFIG_M_PROVIDER=Minio",
		"RCLONE_CONFIG_M_ENDPOINT="+srv.URL, "RCLONE_CONFIG_M_ACCESS_KEY_ID="+srv.AccessKey,
		"RCLONE_CONFIG_M_SECRET_ACCESS_KEY="+srv.SecretKey, "RCLONE_CONFIG_M_REGION="+srv.Region)
	copyWith := func(b *testing.B, bucket string) {
		cmd := exec.Command(rclone, "copy", "--transfers", "16", "--checkers", "16", src, "m:"+bucket)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("rclone copy: %v\n%s", err, out)
		}
	}
	b.Run("rclone/first", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			b.StopTimer()
			bucket := fresh(b)
			b.StartTimer()
			copyWith(b, bucket)
		}
	})
	b.Run("rclone/unchanged", func(b *testing.B) {
		bucket := fresh(b)
		copyWith(b, bucket)
		b.SetBytes(total)
		for b.Loop() {
			copyWith(b, bucket)
		}
	})
}

// makeTree writes files files of total bytes in all (big of them 100 MB each, the rest sharing what is left, of
// varied sizes) of random content, in nested directories.
func makeTree(b *testing.B, files, big int, total int64) string {
	dir := b.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	rest := total - int64(big)*(100<<20)
	small := files - big
	buf := make([]byte, 0, 4<<20)
	for i := range files {
		size := int64(100 << 20)
		if i >= big {
			avg := rest / int64(small)
			size = avg/2 + r.Int64N(avg) // avg/2 .. 3avg/2
			if i == files-1 {
				size = max(rest, 0)
			}
			rest -= size
		}
		p := filepath.Join(dir, fmt.Sprintf("d%02d/s%d/f%04d.bin", i%20, i%3, i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		c := rand.NewChaCha8([32]byte{byte(i), byte(i >> 8)})
		for left := size; left > 0; {
			n := min(left, int64(cap(buf)))
			buf = buf[:n]
			c.Read(buf)
			if _, err := f.Write(buf); err != nil {
				b.Fatal(err)
			}
			left -= n
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}
