package storage_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/storage"
	"github.com/stix-run/stix/internal/storage/gcs"
	"github.com/stix-run/stix/internal/storage/s3"
	"github.com/stix-run/stix/internal/testutil/storagetest"
)

// stores runs f against each store stix speaks, each a real server started for the test: MinIO as S3 (objects
// of 8 MiB or more in 5 MiB parts) and fake-gcs-server as GCS (resumable in 5 MiB chunks from 8 MiB).
func stores(t *testing.T, f func(t *testing.T, st storage.Store)) {
	t.Run("s3", func(t *testing.T) {
		t.Parallel()
		f(t, newMinIO(t))
	})
	t.Run("gcs", func(t *testing.T) {
		t.Parallel()
		f(t, newFakeGCS(t))
	})
}

func newMinIO(t testing.TB) *s3.Client {
	srv := storagetest.MinIO(t)
	c, err := s3.New(s3.Config{Endpoint: storage.Endpoint{URL: srv.URL, Region: srv.Region},
		Credentials: s3.Static{AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey},
		PartSize:    5 << 20, MultipartThreshold: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newFakeGCS(t testing.TB) *gcs.Client {
	srv := storagetest.FakeGCS(t)
	env := credcheck.Env{Getenv: func(k string) string {
		if k == gcs.EmulatorHostEnv {
			return srv.Host
		}
		return ""
	}}
	cfg, err := gcs.FromEnv(&env, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ChunkSize, cfg.ResumableThreshold = 5<<20, 8<<20
	c, err := gcs.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func keys(t *testing.T, ctx context.Context, st storage.Store, bucket, prefix string) []string {
	t.Helper()
	var out []string
	if err := st.List(ctx, bucket, prefix, func(o storage.Object) error {
		out = append(out, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestUploadOnlyWhatChanged(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st storage.Store) {
		ctx := ctxFor(t)
		const bucket = "stix-upload"
		if err := st.CreateBucket(ctx, bucket); err != nil {
			t.Fatal(err)
		}
		src := t.TempDir()
		outside := t.TempDir()
		write(t, filepath.Join(src, "a.txt"), "alpha")
		write(t, filepath.Join(src, "dir/b.txt"), "bravo")
		write(t, filepath.Join(src, "dir/deep/c.txt"), "charlie")
		write(t, filepath.Join(outside, "linked.txt"), "linked file")
		write(t, filepath.Join(outside, "tree/d.txt"), "delta")
		must(t, os.Symlink(filepath.Join(outside, "linked.txt"), filepath.Join(src, "link-to-file")))
		must(t, os.Symlink(filepath.Join(outside, "tree"), filepath.Join(src, "link-to-dir")))
		must(t, os.Symlink(src, filepath.Join(src, "dir/loop")))
		must(t, os.Symlink(filepath.Join(outside, "gone"), filepath.Join(src, "dangling")))
		must(t, syscall.Mkfifo(filepath.Join(src, "fifo"), 0o644))

		var notes []string
		sy := storage.Sync{Workers: 4, Notef: func(f string, a ...any) { notes = append(notes, f) }}
		stats, err := sy.Upload(ctx, st, bucket, "run1", src)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"run1/a.txt", "run1/dir/b.txt", "run1/dir/deep/c.txt", "run1/link-to-dir/d.txt", "run1/link-to-file"}
		if got := keys(t, ctx, st, bucket, ""); !slices.Equal(got, want) {
			t.Fatalf("keys after the first upload = %v, want %v", got, want)
		}
		if stats.Transferred != 5 || stats.Skipped != 0 || stats.Bytes != int64(len("alphabravocharliedeltalinked file")) {
			t.Errorf("first upload: %+v; want 5 files sent, %d bytes", stats, len("alphabravocharliedeltalinked file"))
		}
		if len(stats.Notes) != 3 || len(notes) != 3 {
			t.Errorf("notes = %q; want one each for the loop, the dangling symlink and the fifo", stats.Notes)
		}

		stats, err = sy.Upload(ctx, st, bucket, "run1", src)
		if err != nil || stats.Transferred != 0 || stats.Skipped != 5 {
			t.Fatalf("second upload: %+v, %v; want nothing sent, 5 skipped", stats, err)
		}

		// Same size, other content: the hash, not the size, decides. And a new file.
		write(t, filepath.Join(src, "dir/b.txt"), "BRAVO")
		write(t, filepath.Join(src, "new.txt"), "new")
		stats, err = sy.Upload(ctx, st, bucket, "run1", src)
		if err != nil || stats.Transferred != 2 || stats.Skipped != 4 || stats.Bytes != 8 {
			t.Fatalf("upload after a change: %+v, %v; want 2 files (8 bytes) sent, 4 skipped", stats, err)
		}
		rc, _, err := st.Get(ctx, bucket, "run1/dir/b.txt")
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(rc)
		rc.Close()
		if b.String() != "BRAVO" {
			t.Errorf("run1/dir/b.txt = %q after the change, want BRAVO", b.String())
		}
	})
}

func TestUploadSources(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st storage.Store) {
		ctx := ctxFor(t)
		const bucket = "stix-sources"
		must(t, st.CreateBucket(ctx, bucket))
		d := t.TempDir()
		write(t, filepath.Join(d, "data/x"), "x")
		write(t, filepath.Join(d, "models/y"), "y")
		write(t, filepath.Join(d, "file.cfg"), "z")

		// One file: under its name.
		if _, err := storage.Upload(ctx, st, bucket, "one", filepath.Join(d, "file.cfg")); err != nil {
			t.Fatal(err)
		}
		// Several: each directory under its own name.
		if _, err := storage.Upload(ctx, st, bucket, "", filepath.Join(d, "data"), filepath.Join(d, "models"),
			filepath.Join(d, "file.cfg")); err != nil {
			t.Fatal(err)
		}
		want := []string{"data/x", "file.cfg", "models/y", "one/file.cfg"}
		if got := keys(t, ctx, st, bucket, ""); !slices.Equal(got, want) {
			t.Fatalf("keys = %v, want %v", got, want)
		}

		// Bad input: nothing is sent.
		_, err := storage.Upload(ctx, st, bucket, "bad", filepath.Join(d, "data"), filepath.Join(d, "nope"))
		if err == nil || !strings.Contains(err.Error(), "nope does not exist") {
			t.Errorf("missing source: %v; want it named", err)
		}
		write(t, filepath.Join(d, "other/data/x"), "x2")
		_, err = storage.Upload(ctx, st, bucket, "bad", filepath.Join(d, "data"), filepath.Join(d, "other/data"))
		if err == nil || !strings.Contains(err.Error(), "would both be stored as bad/data/x") {
			t.Errorf("two sources onto one key: %v", err)
		}
		if got := keys(t, ctx, st, bucket, "bad/"); len(got) != 0 {
			t.Errorf("bad uploads stored %v", got)
		}
		_, err = storage.Upload(ctx, st, "stix-no-such-bucket", "", filepath.Join(d, "data"))
		if !errors.Is(err, storage.ErrNoSuchBucket) {
			t.Errorf("upload to a missing bucket: %v; want ErrNoSuchBucket", err)
		}
	})
}

func TestLargeFileMultipart(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st storage.Store) {
		ctx := ctxFor(t)
		const bucket = "stix-large"
		must(t, st.CreateBucket(ctx, bucket))
		src := t.TempDir()
		data := make([]byte, 20<<20)
		rand.Read(data)
		must(t, os.WriteFile(filepath.Join(src, "big.bin"), data, 0o644))
		stats, err := storage.Upload(ctx, st, bucket, "", src)
		if err != nil || stats.Transferred != 1 || stats.Bytes != int64(len(data)) {
			t.Fatalf("upload: %+v, %v", stats, err)
		}
		o, err := st.Stat(ctx, bucket, "big.bin")
		if err != nil || o.Size != int64(len(data)) {
			t.Fatalf("stat: %+v, %v", o, err)
		}
		if st.Kind() == storage.S3 && !strings.HasSuffix(o.ETag, "-4") {
			t.Errorf("ETag %q: want a multipart upload of 4 parts (ETag ending -4)", o.ETag)
		}
		// The second upload finds the content unchanged although S3's ETag is no MD5 of it.
		stats, err = storage.Upload(ctx, st, bucket, "", src)
		if err != nil || stats.Transferred != 0 || stats.Skipped != 1 {
			t.Fatalf("second upload: %+v, %v; want nothing sent", stats, err)
		}
		// And the download back is the same, then skipped.
		dst := t.TempDir()
		stats, err = storage.Download(ctx, st, bucket, "", dst)
		if err != nil || stats.Transferred != 1 {
			t.Fatalf("download: %+v, %v", stats, err)
		}
		got, err := os.ReadFile(filepath.Join(dst, "big.bin"))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("downloaded big.bin differs (%d bytes, %v)", len(got), err)
		}
		stats, err = storage.Download(ctx, st, bucket, "", dst)
		if err != nil || stats.Transferred != 0 || stats.Skipped != 1 {
			t.Fatalf("second download: %+v, %v; want nothing fetched", stats, err)
		}
	})
}

func TestDownload(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st storage.Store) {
		ctx := ctxFor(t)
		const bucket = "stix-download"
		must(t, st.CreateBucket(ctx, bucket))
		put := func(key, content string) {
			t.Helper()
			if _, err := st.Put(ctx, bucket, key, strings.NewReader(content), int64(len(content)), storage.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		put("ds/a.txt", "alpha")
		put("ds/sub/b.txt", "bravo")
		put("ds/sub/deeper/c.txt", "charlie")
		put("other/ignored", "not under the prefix")
		dst := filepath.Join(t.TempDir(), "mnt", "data")
		stats, err := storage.Download(ctx, st, bucket, "ds", dst)
		if err != nil || stats.Transferred != 3 {
			t.Fatalf("download: %+v, %v; want 3 files", stats, err)
		}
		for rel, want := range map[string]string{"a.txt": "alpha", "sub/b.txt": "bravo", "sub/deeper/c.txt": "charlie"} {
			got, err := os.ReadFile(filepath.Join(dst, rel))
			if err != nil || string(got) != want {
				t.Errorf("%s = %q, %v; want %q", rel, got, err, want)
			}
		}
		// Unchanged: nothing fetched. A local change (same size) is put back; a local extra file stays.
		write(t, filepath.Join(dst, "sub/b.txt"), "BRAVO")
		write(t, filepath.Join(dst, "mine.txt"), "mine")
		stats, err = storage.Download(ctx, st, bucket, "ds/", dst)
		if err != nil || stats.Transferred != 1 || stats.Skipped != 2 {
			t.Fatalf("second download: %+v, %v; want 1 fetched, 2 skipped", stats, err)
		}
		if got, _ := os.ReadFile(filepath.Join(dst, "sub/b.txt")); string(got) != "bravo" {
			t.Errorf("sub/b.txt = %q after the second download, want bravo", got)
		}
		if _, err := os.Stat(filepath.Join(dst, "mine.txt")); err != nil {
			t.Errorf("a local file with no object was touched: %v", err)
		}
		leftovers, _ := filepath.Glob(filepath.Join(dst, "*", ".stix-download-*"))
		if len(leftovers) > 0 {
			t.Errorf("temporary files left: %v", leftovers)
		}

		// A symlink in the destination may not carry a key outside it.
		outside := t.TempDir()
		dst2 := t.TempDir()
		must(t, os.Symlink(outside, filepath.Join(dst2, "sub")))
		_, err = storage.Download(ctx, st, bucket, "ds", dst2)
		if err == nil || !strings.Contains(err.Error(), "symlink") {
			t.Errorf("download through a symlink: %v; want it refused", err)
		}
		if entries, _ := os.ReadDir(outside); len(entries) > 0 {
			t.Errorf("download wrote outside the destination: %v", entries)
		}

		_, err = storage.Download(ctx, st, "stix-no-such-bucket", "", t.TempDir())
		if !errors.Is(err, storage.ErrNoSuchBucket) {
			t.Errorf("download of a missing bucket: %v; want ErrNoSuchBucket", err)
		}
	})
}

// TestDownloadRefusesEscapingKeys: object keys that would land outside the destination refuse the download
// before anything is written. GCS allows such names (fake-gcs-server stores them, as GCS does); MinIO refuses
// them at upload.
func TestDownloadRefusesEscapingKeys(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st storage.Store) {
		ctx := ctxFor(t)
		const bucket = "stix-escape"
		must(t, st.CreateBucket(ctx, bucket))
		ok := "ds/fine.txt"
		if _, err := st.Put(ctx, bucket, ok, strings.NewReader("fine"), 4, storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		stored := 0
		for _, key := range []string{"ds/../../escape.txt", "ds//abs.txt", "ds/./dot.txt"} {
			if _, err := st.Put(ctx, bucket, key, strings.NewReader("bad"), 3, storage.PutOptions{}); err == nil {
				stored++
			}
		}
		if stored == 0 {
			// MinIO refuses such names at upload (AWS S3 takes them): nothing can reach a download; the refusal in
			// Download is the same code for every store, and the GCS case exercises it.
			t.Logf("%s refused every escaping key at upload", st.Kind())
			return
		}
		root := t.TempDir()
		dst := filepath.Join(root, "a", "b")
		_, err := storage.Download(ctx, st, bucket, "ds", dst)
		if err == nil || !strings.Contains(err.Error(), "outside") {
			t.Fatalf("download with escaping keys: %v; want it refused", err)
		}
		var files []string
		filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				files = append(files, p)
			}
			return nil
		})
		if len(files) > 0 {
			t.Errorf("a refused download wrote %v", files)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestUploadHashCache: with a hash cache, an unchanged upload takes the MD5 of a file whose stat has not changed
// from the cache instead of reading it; a written file (new change time) is hashed again.
func TestUploadHashCache(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st storage.Store) {
		ctx := ctxFor(t)
		const bucket = "stix-cache"
		must(t, st.CreateBucket(ctx, bucket))
		src := t.TempDir()
		write(t, filepath.Join(src, "a.txt"), "alpha")
		write(t, filepath.Join(src, "sub/b.txt"), "bravo")
		cachePath := filepath.Join(t.TempDir(), "cache", "hashes.json")
		sy := storage.Sync{HashCache: cachePath}
		if stats, err := sy.Upload(ctx, st, bucket, "", src); err != nil || stats.Transferred != 2 {
			t.Fatalf("first upload: %+v, %v", stats, err)
		}
		fi, err := os.Stat(cachePath)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("cache file: %v, %v; want it written owner-only", fi, err)
		}
		if stats, err := sy.Upload(ctx, st, bucket, "", src); err != nil || stats.Skipped != 2 {
			t.Fatalf("second upload: %+v, %v; want both skipped", stats, err)
		}

		// Rewritten with the same size: the change time moved, so the file is hashed again and sent.
		write(t, filepath.Join(src, "sub/b.txt"), "BRAVO")
		if stats, err := sy.Upload(ctx, st, bucket, "", src); err != nil || stats.Transferred != 1 || stats.Skipped != 1 {
			t.Fatalf("upload after a rewrite: %+v, %v; want 1 sent", stats, err)
		}

		// The cache is what decides for a file whose stat matches: a wrong MD5 planted for a.txt makes it look
		// changed (and the store then refuses content that does not match the stated MD5).
		data, err := os.ReadFile(cachePath)
		if err != nil {
			t.Fatal(err)
		}
		abs := filepath.Join(src, "a.txt")
		planted := strings.Replace(string(data), "2c1743a391305fbf367df8e4f069f9f9", "00000000000000000000000000000000", 1)
		if planted == string(data) || !strings.Contains(string(data), abs) {
			t.Fatalf("the cache does not hold a.txt's MD5 under %s: %s", abs, data)
		}
		must(t, os.WriteFile(cachePath, []byte(planted), 0o600))
		stats, err := sy.Upload(ctx, st, bucket, "", src)
		if err == nil && stats.Skipped == 2 {
			t.Fatalf("upload with a planted cache entry skipped a.txt: the file was read, not the cache")
		}
		t.Logf("with a planted cache entry: %+v, %v", stats, err)
	})
}

func TestDownloadObject(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st storage.Store) {
		ctx := ctxFor(t)
		const bucket = "stix-object"
		must(t, st.CreateBucket(ctx, bucket))
		if _, err := st.Put(ctx, bucket, "cfg/model.yaml", strings.NewReader("lr: 0.1"), 7, storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		dest := filepath.Join(t.TempDir(), "etc", "model.yaml")
		stats, err := storage.DownloadObject(ctx, st, bucket, "cfg/model.yaml", dest)
		if got, _ := os.ReadFile(dest); err != nil || stats.Transferred != 1 || string(got) != "lr: 0.1" {
			t.Fatalf("DownloadObject: %+v, %v, %q", stats, err, got)
		}
		if stats, err := storage.DownloadObject(ctx, st, bucket, "cfg/model.yaml", dest); err != nil || stats.Skipped != 1 {
			t.Errorf("DownloadObject again: %+v, %v; want it skipped", stats, err)
		}
		_, err = storage.DownloadObject(ctx, st, bucket, "cfg/none.yaml", dest)
		if !errors.Is(err, storage.ErrNoSuchKey) {
			t.Errorf("DownloadObject of a missing key: %v; want ErrNoSuchKey", err)
		}
	})
}
