package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/testutil/storagetest"
)

// TestStorageVanishedClusterDropsBuckets: when `status -r` finds a cluster gone from its provider (preempted,
// deleted outside stix), its `persistent: false` buckets go with it, as at `down`, on the endpoint their records
// name (the caller's environment names none here); its persistent buckets stay recorded.
func TestStorageVanishedClusterDropsBuckets(t *testing.T) {
	t.Parallel()
	w := newMinIOWorld(t, "")
	ctx := context.Background()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := "run: cat ~/data/a.txt\nfile_mounts:\n  ~/data:\n    name: stix-gone-tmp\n    source: " + src +
		"\n    mode: COPY\n    persistent: false\n  ~/keep:\n    name: stix-gone-keep\n    mode: COPY\n"
	res, err := w.m.Launch(ctx, task(t, yaml), api.LaunchOptions{ClusterName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := w.finish(t, "c", res.JobID); status != "SUCCEEDED" {
		t.Fatalf("job %s", status)
	}
	if err := w.fakes["fake-a"].Preempt(ctx, cloud.ClusterRef{Name: "c"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AWS_ACCESS_KEY_ID": storagetest.AccessKey, "AWS_SECRET_ACCESS_KEY": storagetest.SecretKey}
	w.m.newBuckets = EnvBuckets(credcheck.Env{Getenv: func(k string) string { return env[k] }}, nil)
	if cs, err := w.m.Status(ctx, nil, true); err != nil || len(cs) != 0 {
		t.Fatalf("status -r = %+v, %v; want the cluster forgotten", cs, err)
	}
	if w.exists(t, "stix-gone-tmp") || w.record(t, "stix-gone-tmp") != nil {
		t.Errorf("the persistent: false bucket of a vanished cluster is still there (record %+v)", w.record(t, "stix-gone-tmp"))
	}
	if !w.exists(t, "stix-gone-keep") || w.record(t, "stix-gone-keep") == nil {
		t.Error("the persistent bucket of a vanished cluster is gone or unrecorded")
	}
}

// TestStorageRelaunchOfVanishedAutodownCluster: a launch onto the name of a cluster with autodown that vanished
// finds it gone (as `status -r` would) before it makes its buckets, so the `persistent: false` bucket that goes
// with the old cluster is made again for the new one, not deleted under it.
func TestStorageRelaunchOfVanishedAutodownCluster(t *testing.T) {
	t.Parallel()
	w := newMinIOWorld(t, "")
	ctx := context.Background()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := "run: cat ~/data/a.txt\nfile_mounts:\n  ~/data:\n    name: stix-again-tmp\n    source: " + src +
		"\n    mode: COPY\n    persistent: false\n"
	idle := 60
	opts := api.LaunchOptions{ClusterName: "c", IdleMinutes: &idle, Down: true}
	res, err := w.m.Launch(ctx, task(t, yaml), opts)
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := w.finish(t, "c", res.JobID); status != "SUCCEEDED" {
		t.Fatalf("job %s", status)
	}
	if err := w.fakes["fake-a"].Preempt(ctx, cloud.ClusterRef{Name: "c"}); err != nil {
		t.Fatal(err)
	}
	res, err = w.m.Launch(ctx, task(t, yaml), opts)
	if err != nil {
		t.Fatal(err)
	}
	if status, out := w.finish(t, "c", res.JobID); status != "SUCCEEDED" || !strings.Contains(out, "alpha") {
		t.Errorf("job on the new cluster: %s, %q; want the bucket's file", status, out)
	}
	if !w.exists(t, "stix-again-tmp") || w.record(t, "stix-again-tmp") == nil {
		t.Error("the new cluster's persistent: false bucket is gone or unrecorded")
	}
}
