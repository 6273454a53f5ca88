package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/config"
	"github.com/stix-run/stix/internal/storage"
	"github.com/stix-run/stix/internal/storage/s3"
	"github.com/stix-run/stix/internal/store"
	"github.com/stix-run/stix/internal/testutil/fakecloud"
	"github.com/stix-run/stix/internal/testutil/storagetest"
)

// minioWorld is a world whose Manager reaches a real MinIO as S3 (through AWS_ENDPOINT_URL_S3 and the AWS
// key variables, as a user's shell would set them), and an S3 client of its own to look at the buckets.
type minioWorld struct {
	*world
	s3  *s3.Client
	url string
}

func newMinIOWorld(t *testing.T, endpoint string, clouds ...fakecloud.Options) *minioWorld {
	t.Helper()
	srv := storagetest.MinIO(t)
	if endpoint == "" {
		endpoint = srv.URL
	}
	if len(clouds) == 0 {
		clouds = []fakecloud.Options{{Name: "fake-a", Places: []fakecloud.Place{{Region: "r1", Zone: "r1a", Price: 1}}}}
	}
	w := newWorld(t, clouds...)
	env := map[string]string{"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey}
	if endpoint != "config" {
		env["AWS_ENDPOINT_URL_S3"] = endpoint
	}
	w.m.newBuckets = EnvBuckets(credcheck.Env{Getenv: func(k string) string { return env[k] }}, nil)
	c, err := s3.New(s3.Config{Endpoint: storage.Endpoint{URL: srv.URL},
		Credentials: s3.Static{AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey}})
	if err != nil {
		t.Fatal(err)
	}
	return &minioWorld{world: w, s3: c, url: srv.URL}
}

func (w *minioWorld) exists(t *testing.T, bucket string) bool {
	t.Helper()
	ok, err := w.s3.BucketExists(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func (w *minioWorld) record(t *testing.T, name string) *store.Storage {
	t.Helper()
	st, err := w.m.store(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tbl, _ := store.BucketsOf(st)
	r, err := tbl.Get(context.Background(), name)
	if store.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// progressLog collects a launch's progress lines.
type progressLog struct {
	mu    sync.Mutex
	lines []string
}

func (p *progressLog) report(s api.Step) {
	p.mu.Lock()
	p.lines = append(p.lines, s.Msg)
	p.mu.Unlock()
}

func (p *progressLog) has(s string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// TestStorageLocalSourceMinIO: a local source makes a stix-managed bucket on MinIO, uploads to it and records
// it, leaving out what the source's .skyignore says; the job reads the files through the node's mount; a second
// launch uploads nothing; `persistent: false`
// deletes the bucket and its record at down; a bucket a live cluster uses is not deleted by `storage delete`.
func TestStorageLocalSourceMinIO(t *testing.T) {
	t.Parallel()
	w := newMinIOWorld(t, "")
	ctx := context.Background()
	src := t.TempDir()
	for name, body := range map[string]string{"a.txt": "alpha\n", "sub/b.txt": "beta\n", ".skyignore": "/secret\n*.log\n",
		"secret/key": "k", "sub/debug.log": "noise"} {
		os.MkdirAll(filepath.Join(src, filepath.Dir(name)), 0o755)
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	yaml := "run: cat ~/data/a.txt ~/data/sub/b.txt\nfile_mounts:\n  ~/data:\n    name: stix-local-one\n    source: " + src +
		"\n    mode: MOUNT\n    persistent: false\n"
	var p1 progressLog
	res, err := w.m.Launch(ctx, task(t, yaml), api.LaunchOptions{ClusterName: "c", Command: "stix launch first", Progress: p1.report})
	if err != nil {
		t.Fatal(err)
	}
	if !p1.has("Uploaded 3 changed file(s) to s3://stix-local-one") {
		t.Errorf("first launch progress: %q", p1.lines)
	}
	var keys []string
	if err := w.s3.List(ctx, "stix-local-one", "", func(o storage.Object) error { keys = append(keys, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(keys, " ") != ".skyignore a.txt sub/b.txt" {
		t.Errorf("bucket keys %q; want what .skyignore leaves", keys)
	}
	if status, out := w.finish(t, "c", res.JobID); status != "SUCCEEDED" || !strings.Contains(out, "alpha") || !strings.Contains(out, "beta") {
		t.Errorf("job: %s, output %q; want the bucket's files", status, out)
	}
	r := w.record(t, "stix-local-one")
	if r == nil || !r.Managed || r.Persistent || r.Status != store.StorageReady || r.Cluster != "c" || r.Store != "s3" {
		t.Fatalf("record %+v; want a READY, managed, non-persistent s3 bucket of c", r)
	}
	var p2 progressLog
	if _, err := w.m.Launch(ctx, task(t, yaml), api.LaunchOptions{ClusterName: "c", Progress: p2.report}); err != nil {
		t.Fatal(err)
	}
	if !p2.has("Uploaded 0 changed file(s)") {
		t.Errorf("second launch progress: %q; want nothing uploaded", p2.lines)
	}

	// In use by a live cluster: refused, and the bucket stays.
	if _, err := w.m.StorageDelete(ctx, api.StorageDeleteRequest{Names: []string{"stix-local-one"}}, nil); err == nil ||
		!strings.Contains(err.Error(), `storage "stix-local-one" is used by cluster "c"`) {
		t.Errorf("delete of a bucket in use: %v", err)
	}
	if !w.exists(t, "stix-local-one") {
		t.Fatal("the bucket is gone after a refused delete")
	}

	if err := w.m.Down(ctx, "c", false); err != nil {
		t.Fatal(err)
	}
	if w.exists(t, "stix-local-one") || w.record(t, "stix-local-one") != nil {
		t.Errorf("persistent: false bucket still there after down (record %+v)", w.record(t, "stix-local-one"))
	}
}

// TestStorageExistingBucketsMinIO: a bucket stix did not create is used but never deleted (down and `storage
// delete` only forget it); a bucket URI that does not exist, and a store that does not answer, fail before
// anything is made.
func TestStorageExistingBucketsMinIO(t *testing.T) {
	t.Parallel()
	w := newMinIOWorld(t, "")
	ctx := context.Background()
	if err := w.s3.CreateBucket(ctx, "stix-theirs"); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "x.txt"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	_, err := w.m.Launch(ctx, task(t, "run: ls\nfile_mounts:\n  ~/in: s3://stix-nope/sub\n"), api.LaunchOptions{ClusterName: "c"})
	if err == nil || !strings.Contains(err.Error(), "bucket s3://stix-nope does not exist") {
		t.Fatalf("missing bucket URI: %v", err)
	}
	assertNothingMade(t, w.world)

	yaml := "run: cat ~/in/x.txt\nfile_mounts:\n  ~/in:\n    name: stix-theirs\n    source: " + src + "\n    persistent: false\n"
	res, err := w.m.Launch(ctx, task(t, yaml), api.LaunchOptions{ClusterName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if status, out := w.finish(t, "c", res.JobID); status != "SUCCEEDED" || !strings.Contains(out, "x") {
		t.Errorf("job: %s, %q", status, out)
	}
	if r := w.record(t, "stix-theirs"); r == nil || r.Managed || !r.Persistent {
		t.Fatalf("record %+v; want an unmanaged, persistent bucket", r)
	}
	if err := w.m.Down(ctx, "c", false); err != nil {
		t.Fatal(err)
	}
	if !w.exists(t, "stix-theirs") {
		t.Fatal("down deleted a bucket stix did not create")
	}
	out, err := w.m.StorageDelete(ctx, api.StorageDeleteRequest{All: true}, nil)
	if err != nil || len(out) != 1 || out[0].Deleted {
		t.Fatalf("storage delete -a: %+v, %v; want the record removed, the bucket kept", out, err)
	}
	if !w.exists(t, "stix-theirs") || w.record(t, "stix-theirs") != nil {
		t.Error("storage delete of a bucket stix did not create: want the bucket kept and the record gone")
	}
}

// TestStorageUnreachableStore: a store that does not answer is a clear error before anything is made.
func TestStorageUnreachableStore(t *testing.T) {
	t.Parallel()
	w := newMinIOWorld(t, "http://127.0.0.1:1")
	_, err := w.m.Launch(context.Background(), task(t, "run: ls\nfile_mounts:\n  ~/in:\n    name: stix-x\n    source: .\n"), api.LaunchOptions{ClusterName: "c"})
	if err == nil || !strings.Contains(err.Error(), "cannot reach store s3 at http://127.0.0.1:1") {
		t.Fatalf("launch: %v", err)
	}
	assertNothingMade(t, w.world)
}

// TestStorageEndpointFromConfig: with no endpoint variable, `storage.s3.endpoint_url` of stix's config names the
// S3-compatible store; the bucket is made there.
func TestStorageEndpointFromConfig(t *testing.T) {
	t.Parallel()
	w := newMinIOWorld(t, "config")
	cfg, err := config.Parse(config.LayerUser, "config.yaml", []byte("storage:\n  s3:\n    endpoint_url: "+w.url+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := config.NewContext(context.Background(), cfg)
	_, err = w.m.Launch(ctx, task(t, "file_mounts:\n  ~/empty:\n    name: stix-from-config\n"), api.LaunchOptions{ClusterName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if !w.exists(t, "stix-from-config") {
		t.Fatal("no bucket on the configured endpoint")
	}
	if r := w.record(t, "stix-from-config"); r == nil || r.Endpoint != w.url {
		t.Errorf("record %+v; want endpoint %s", r, w.url)
	}
}

// TestStorageRemountOnStartMinIO: a stopped cluster's mounts are made again by `start` (the mounts were kept
// without credentials; they are resolved again), and what a job wrote through a mount is in the bucket after
// stop flushed and unmounted it.
func TestStorageRemountOnStartMinIO(t *testing.T) {
	t.Parallel()
	w := newMinIOWorld(t, "")
	ctx := context.Background()
	yaml := "run: echo written > ~/out/w.txt && cat ~/out/w.txt\nfile_mounts:\n  ~/out:\n    name: stix-remount\n"
	res, err := w.m.Launch(ctx, task(t, yaml), api.LaunchOptions{ClusterName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if status, out := w.finish(t, "c", res.JobID); status != "SUCCEEDED" || !strings.Contains(out, "written") {
		t.Fatalf("job: %s, %q", status, out)
	}
	st, _ := w.m.store(ctx)
	v, _, _ := st.GetValue(ctx, mountsKey("c"))
	if v == "" || strings.Contains(v, "stixsecret") || strings.Contains(v, storagetest.SecretKey) {
		t.Fatalf("recorded mounts %q: want them, without secrets", v)
	}
	if err := w.m.Stop(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.s3.Get(ctx, "stix-remount", "w.txt"); err != nil {
		t.Fatalf("the job's file is not in the bucket after stop: %v", err)
	}
	if err := w.m.Start(ctx, "c", nil); err != nil {
		t.Fatal(err)
	}
	res, err = w.m.Exec(ctx, "c", task(t, "run: cat ~/out/w.txt\n"), api.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if status, out := w.finish(t, "c", res.JobID); status != "SUCCEEDED" || !strings.Contains(out, "written") {
		t.Errorf("after start: %s, %q; want the bucket mounted again", status, out)
	}
}

// TestStorageRefusedCredentialsMinIO: credentials the store refuses are named as such, before anything is made.
func TestStorageRefusedCredentialsMinIO(t *testing.T) {
	t.Parallel()
	w := newMinIOWorld(t, "")
	env := map[string]string{"AWS_ENDPOINT_URL_S3": w.url, "AWS_ACCESS_KEY_ID": "nobody", "AWS_SECRET_ACCESS_KEY": "wrong-secret"}
	w.m.newBuckets = EnvBuckets(credcheck.Env{Getenv: func(k string) string { return env[k] }}, nil)
	_, err := w.m.Launch(context.Background(), task(t, "run: ls\nfile_mounts:\n  ~/in:\n    name: stix-y\n    source: .\n"), api.LaunchOptions{ClusterName: "c"})
	if err == nil || !strings.Contains(err.Error(), "store s3 did not accept the credentials for s3://stix-y") {
		t.Fatalf("launch: %v", err)
	}
	assertNothingMade(t, w.world)
}

// TestStorageNoFUSEInfraMinIO: a provider whose nodes cannot mount (cloud.NoFUSE) is passed over, without an
// attempt, by a launch that mounts a bucket, which lands on the next infra; and it fails with the reason when
// there is no other.
func TestStorageNoFUSEInfraMinIO(t *testing.T) {
	t.Parallel()
	cheap := fakecloud.Options{Name: "fake-a", Places: []fakecloud.Place{{Region: "r1", Zone: "r1a", Price: 1}}, NoFUSE: "no /dev/fuse in its nodes"}
	dear := fakecloud.Options{Name: "fake-b", Places: []fakecloud.Place{{Region: "b1", Zone: "b1a", Price: 5}}}
	w := newMinIOWorld(t, "", cheap, dear)
	ctx := context.Background()
	if _, err := w.m.Launch(ctx, task(t, "file_mounts:\n  ~/m:\n    name: stix-fuse\n"), api.LaunchOptions{ClusterName: "c"}); err != nil {
		t.Fatal(err)
	}
	if c := w.cluster(t, "c"); c.Cloud != "fake-b" {
		t.Errorf("landed on %s, want fake-b (fake-a's nodes cannot mount)", c.Cloud)
	}
	if n := len(w.fakes["fake-a"].Attempts()); n != 0 {
		t.Errorf("fake-a: %d attempts, want none", n)
	}

	// With no other infra that can mount, the launch fails before anything is made: no bucket, no record, no
	// provisioning attempt.
	only := newMinIOWorld(t, "", cheap)
	_, err := only.m.Launch(ctx, task(t, "file_mounts:\n  ~/m:\n    name: stix-fuse-2\n    persistent: false\n  ~/k:\n    name: stix-fuse-keep\n"), api.LaunchOptions{ClusterName: "c"})
	if err == nil || !strings.Contains(err.Error(), "file_mounts ~/m (MOUNT) needs FUSE") ||
		!strings.Contains(err.Error(), "nodes cannot mount buckets (no /dev/fuse in its nodes): use `mode: COPY` there") {
		t.Fatalf("launch: %v", err)
	}
	assertNothingMade(t, only.world)
	if only.exists(t, "stix-fuse-2") || only.exists(t, "stix-fuse-keep") {
		t.Error("a launch that could mount nowhere made its buckets")
	}
}

// TestStorageGCS: `store: gcs` on fake-gcs-server (STORAGE_EMULATOR_HOST, as Google's libraries read it): the
// bucket is made, the local source uploaded, and the job reads it through the node's mount.
func TestStorageGCS(t *testing.T) {
	t.Parallel()
	srv := storagetest.FakeGCS(t)
	w := newWorld(t, fakecloud.Options{Name: "fake-a", Places: []fakecloud.Place{{Region: "r1", Zone: "r1a", Price: 1}}})
	env := map[string]string{"STORAGE_EMULATOR_HOST": srv.Host}
	w.m.newBuckets = EnvBuckets(credcheck.Env{Getenv: func(k string) string { return env[k] }}, nil)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "g.txt"), []byte("from gcs\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	yaml := "run: cat ~/g/g.txt\nfile_mounts:\n  ~/g:\n    name: stix-gcs-one\n    store: gcs\n    source: " + src + "\n"
	res, err := w.m.Launch(ctx, task(t, yaml), api.LaunchOptions{ClusterName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if status, out := w.finish(t, "c", res.JobID); status != "SUCCEEDED" || !strings.Contains(out, "from gcs") {
		t.Errorf("job: %s, %q", status, out)
	}
	ls, err := w.m.StorageList(ctx)
	if err != nil || len(ls) != 1 || ls[0].Store != "gcs" || !ls[0].Managed {
		t.Errorf("storage ls: %+v, %v", ls, err)
	}
}

// TestStorageDownUsesTheRecordedEndpoint: a non-persistent bucket made on an S3-compatible endpoint (named by
// AWS_ENDPOINT_URL_S3 at launch) is deleted at down by a caller whose environment names no endpoint: the bucket
// lives where its record says, not where the caller's defaults point (AWS).
func TestStorageDownUsesTheRecordedEndpoint(t *testing.T) {
	t.Parallel()
	w := newMinIOWorld(t, "")
	ctx := context.Background()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := "run: cat ~/data/a.txt\nfile_mounts:\n  ~/data:\n    name: stix-recorded-ep\n    source: " + src +
		"\n    mode: COPY\n    persistent: false\n"
	res, err := w.m.Launch(ctx, task(t, yaml), api.LaunchOptions{ClusterName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := w.finish(t, "c", res.JobID); status != "SUCCEEDED" {
		t.Fatalf("job %s", status)
	}
	if r := w.record(t, "stix-recorded-ep"); r == nil || r.Endpoint != w.url {
		t.Fatalf("record %+v; want the endpoint %s", r, w.url)
	}
	// The same keys, no endpoint variable: the caller's defaults would be AWS's own S3.
	env := map[string]string{"AWS_ACCESS_KEY_ID": storagetest.AccessKey, "AWS_SECRET_ACCESS_KEY": storagetest.SecretKey}
	w.m.newBuckets = EnvBuckets(credcheck.Env{Getenv: func(k string) string { return env[k] }}, nil)
	if err := w.m.Down(ctx, "c", false); err != nil {
		t.Fatal(err)
	}
	if w.exists(t, "stix-recorded-ep") || w.record(t, "stix-recorded-ep") != nil {
		t.Errorf("persistent: false bucket still there after down (record %+v)", w.record(t, "stix-recorded-ep"))
	}
}

// TestStorageUploadKeepsAHashCache: launch's uploads keep storage.Sync's hash cache under STIX_HOME, one file per
// set of sources and destination, so an unchanged upload stats its files rather than reading them all; the
// second upload sends nothing and a changed file is sent again.
func TestStorageUploadKeepsAHashCache(t *testing.T) {
	t.Parallel()
	srv := storagetest.MinIO(t)
	stixHome := t.TempDir()
	env := map[string]string{"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey, "AWS_ENDPOINT_URL_S3": srv.URL}
	bs, err := EnvBuckets(credcheck.Env{StixHome: stixHome, Getenv: func(k string) string { return env[k] }}, nil)(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := bs.Create(ctx, "s3", "hashes"); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{1, 0} {
		if sent, err := bs.Upload(ctx, "s3", "hashes", "", []string{src}); err != nil || sent != want {
			t.Fatalf("upload %d: sent %d, %v; want %d", i+1, sent, err, want)
		}
	}
	caches, _ := filepath.Glob(filepath.Join(stixHome, "storage", "hashes", "*.json"))
	if len(caches) != 1 {
		t.Fatalf("hash caches %v; want one", caches)
	}
	if err := os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if sent, err := bs.Upload(ctx, "s3", "hashes", "", []string{src}); err != nil || sent != 1 {
		t.Fatalf("upload after a change: sent %d, %v; want 1", sent, err)
	}
}
