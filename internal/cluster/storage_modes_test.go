package cluster

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/storage"
)

// TestStorageCopyMinIO: COPY puts a bucket's files on the node's disk before the job: several local sources
// uploaded to one managed bucket (each directory under its own name, each file by its name), and a bucket URI's
// sub-path.
func TestStorageCopyMinIO(t *testing.T) {
	t.Parallel()
	w := newMinIOWorld(t, "")
	ctx := context.Background()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "set"), 0o755)
	for name, body := range map[string]string{"set/x.txt": "ex\n", "b.txt": "bee\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.s3.CreateBucket(ctx, "stix-uri-src"); err != nil {
		t.Fatal(err)
	}
	body := []byte("from the uri\n")
	if _, err := w.s3.Put(ctx, "stix-uri-src", "sub/k.txt", bytes.NewReader(body), int64(len(body)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	yaml := "run: cat ~/c/set/x.txt ~/c/b.txt ~/u/k.txt\nfile_mounts:\n" +
		"  ~/c:\n    name: stix-copy-multi\n    mode: COPY\n    source: [" + filepath.Join(dir, "set") + ", " + filepath.Join(dir, "b.txt") + "]\n" +
		"  ~/u: s3://stix-uri-src/sub\n"
	res, err := w.m.Launch(ctx, task(t, yaml), api.LaunchOptions{ClusterName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	status, out := w.finish(t, "c", res.JobID)
	for _, want := range []string{"ex", "bee", "from the uri"} {
		if status != "SUCCEEDED" || !strings.Contains(out, want) {
			t.Errorf("job: %s, output %q; want %q", status, out, want)
		}
	}
	if w.record(t, "stix-uri-src") != nil {
		t.Error("a bucket given by URI was recorded")
	}
}

// TestStorageMountCachedMinIO: a job's write through a MOUNT_CACHED bucket is in the bucket once the job is
// reported finished (the agent flushes before it records the end), with the cluster still up.
func TestStorageMountCachedMinIO(t *testing.T) {
	t.Parallel()
	w := newMinIOWorld(t, "")
	ctx := context.Background()
	yaml := "run: echo saved > ~/ckpt/step-1.txt\nfile_mounts:\n  ~/ckpt:\n    name: stix-cached\n    mode: MOUNT_CACHED\n"
	res, err := w.m.Launch(ctx, task(t, yaml), api.LaunchOptions{ClusterName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if status, out := w.finish(t, "c", res.JobID); status != "SUCCEEDED" {
		t.Fatalf("job: %s, %q", status, out)
	}
	rc, _, err := w.s3.Get(ctx, "stix-cached", "step-1.txt")
	if err != nil {
		t.Fatalf("the checkpoint is not in the bucket when the job is reported finished: %v", err)
	}
	defer rc.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(rc); err != nil || b.String() != "saved\n" {
		t.Errorf("checkpoint %q, %v", b.String(), err)
	}
}

// TestStorageAnotherUsersBucketMinIO: a task of bob's that names a bucket stix made for alice uses it but cannot
// make it non-persistent: bob's down leaves it; alice's record and setting stand.
func TestStorageAnotherUsersBucketMinIO(t *testing.T) {
	t.Parallel()
	w := newMinIOWorld(t, "")
	alice := auth.With(context.Background(), auth.Identity{Name: "alice", Role: auth.RoleUser})
	bob := auth.With(context.Background(), auth.Identity{Name: "bob", Role: auth.RoleUser})
	if _, err := w.m.Launch(alice, task(t, "file_mounts:\n  ~/s:\n    name: stix-alices\n"), api.LaunchOptions{ClusterName: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.m.Launch(bob, task(t, "file_mounts:\n  ~/s:\n    name: stix-alices\n    persistent: false\n"), api.LaunchOptions{ClusterName: "b"}); err != nil {
		t.Fatal(err)
	}
	if err := w.m.Down(bob, "b", false); err != nil {
		t.Fatal(err)
	}
	if !w.exists(t, "stix-alices") {
		t.Fatal("bob's down deleted alice's bucket")
	}
	if r := w.record(t, "stix-alices"); r == nil || r.User != "alice" || !r.Persistent {
		t.Errorf("record %+v; want alice's, persistent", r)
	}
}
