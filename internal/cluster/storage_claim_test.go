package cluster

import (
	"bytes"
	"context"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/spec"
	"github.com/stix-run/stix/internal/storage"
	"github.com/stix-run/stix/internal/storage/gcs"
	"github.com/stix-run/stix/internal/testutil/fakecloud"
	"github.com/stix-run/stix/internal/testutil/storagetest"
)

// claimed is a task mounting bucket (persistent: false) whose API server's client says it created the bucket
// (api.SourcesInBucket.Created, as the embedded core passes it on).
func claimed(t *testing.T, bucket, store string) *spec.Task {
	t.Helper()
	tk := task(t, "run: ls\nfile_mounts:\n  ~/d:\n    name: "+bucket+"\n    store: "+store+"\n    mode: COPY\n    persistent: false\n")
	tk.FileMounts[0].Storage.MadeByClient = true
	return tk
}

// TestStorageClientClaimMinIO: a client's word that it created a bucket stands only for a bucket that carries
// stix's mark. A pre-existing, untagged bucket it claims is kept at down with `persistent: false`, objects and
// all, and the launch says why; a bucket made as the CLI makes it (storage.MakeBucket: tagged) is deleted.
func TestStorageClientClaimMinIO(t *testing.T) {
	t.Parallel()
	w := newMinIOWorld(t, "")
	ctx := context.Background()
	// Made outside stix: no tag.
	if err := w.s3.CreateBucket(ctx, "stix-not-ours"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.s3.Put(ctx, "stix-not-ours", "precious.txt", bytes.NewReader([]byte("keep")), 4, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// Made as the CLI makes a storage entry's bucket before it names it in TaskSpec.InBucket.
	if err := storage.MakeBucket(ctx, w.s3, "stix-client-made"); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"stix-not-ours", "stix-client-made"} {
		if marked, err := w.s3.BucketMarked(ctx, b); err != nil || marked != (b == "stix-client-made") {
			t.Fatalf("BucketMarked(%s) = %v, %v", b, marked, err)
		}
	}

	var p progressLog
	if _, err := w.m.Launch(ctx, claimed(t, "stix-not-ours", "s3"), api.LaunchOptions{ClusterName: "c1", Progress: p.report}); err != nil {
		t.Fatal(err)
	}
	if !p.has("bucket stix-not-ours carries no stix-managed tag") {
		t.Errorf("launch progress %q; want a note that the claim is not honoured", p.lines)
	}
	if r := w.record(t, "stix-not-ours"); r == nil || r.Managed || !r.Persistent {
		t.Errorf("record %+v; want an unmanaged, persistent bucket", r)
	}
	if _, err := w.m.Launch(ctx, claimed(t, "stix-client-made", "s3"), api.LaunchOptions{ClusterName: "c2"}); err != nil {
		t.Fatal(err)
	}
	if r := w.record(t, "stix-client-made"); r == nil || !r.Managed || r.Persistent {
		t.Errorf("record %+v; want a managed, non-persistent bucket", r)
	}

	for _, c := range []string{"c1", "c2"} {
		if err := w.m.Down(ctx, c, false); err != nil {
			t.Fatal(err)
		}
	}
	if !w.exists(t, "stix-not-ours") {
		t.Fatal("down deleted a pre-existing bucket on a client's claim")
	}
	if _, err := w.s3.Stat(ctx, "stix-not-ours", "precious.txt"); err != nil {
		t.Errorf("the pre-existing bucket's object: %v", err)
	}
	if w.exists(t, "stix-client-made") {
		t.Error("a tagged bucket the client made is still there after down (persistent: false)")
	}
}

// TestStorageBucketLabelGCS: on GCS the mark is a bucket label (buckets.patch); a bucket made without it is not
// marked, and a claim for it is not honoured. fake-gcs-server (v1.56) accepts the patch but keeps no labels, so
// that a marked bucket reads as marked is tested on MinIO only.
func TestStorageBucketLabelGCS(t *testing.T) {
	t.Parallel()
	srv := storagetest.FakeGCS(t)
	ctx := context.Background()
	c, err := gcs.New(gcs.Config{Endpoint: srv.URL, Project: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateBucket(ctx, "stix-gcs-theirs"); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateBucket(ctx, "stix-gcs-mine"); err != nil {
		t.Fatal(err)
	}
	if err := c.MarkBucket(ctx, "stix-gcs-mine"); err != nil {
		t.Fatalf("MarkBucket: %v", err)
	}
	if marked, err := c.BucketMarked(ctx, "stix-gcs-theirs"); err != nil || marked {
		t.Fatalf("BucketMarked of a bucket made outside stix = %v, %v; want false", marked, err)
	}
	w := newWorld(t, fakecloud.Options{Name: "fake-a", Places: []fakecloud.Place{{Region: "r1", Zone: "r1a", Price: 1}}})
	env := map[string]string{"STORAGE_EMULATOR_HOST": srv.Host}
	w.m.newBuckets = EnvBuckets(credcheck.Env{Getenv: func(k string) string { return env[k] }}, nil)
	if _, err := w.m.Launch(ctx, claimed(t, "stix-gcs-theirs", "gcs"), api.LaunchOptions{ClusterName: "c"}); err != nil {
		t.Fatal(err)
	}
	if err := w.m.Down(ctx, "c", false); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.BucketExists(ctx, "stix-gcs-theirs"); err != nil || !ok {
		t.Errorf("pre-existing GCS bucket after down: %v, %v; want it kept", ok, err)
	}
}
