package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/store"
	"github.com/stix-run/stix/internal/testutil/fakecloud"
)

// TestStorageBadInput: a task whose bucket file mounts cannot work fails before anything is made — no attempt
// to provision, no cluster record, no bucket record — with a message that says what is wrong and where. These
// are the checks that need no store; checkBuckets' are tested against MinIO.
func TestStorageBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, f := range []string{"a", "b"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, b, missing := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "missing")
	tests := []struct{ name, mounts, want string }{
		{"missing local source", "/data:\n    name: bkt-one\n    source: " + missing + "\n    mode: COPY",
			"file_mounts /data: source " + missing + ": no such file or directory"},
		{"MOUNT with several local sources", "/data:\n    name: bkt-one\n    source: [" + a + ", " + b + "]\n    mode: MOUNT",
			"mode MOUNT takes one source, and 2 are given: use `mode: COPY`"},
		{"MOUNT_CACHED with several local sources", "/data:\n    name: bkt-one\n    source: [" + a + ", " + b + "]\n    mode: MOUNT_CACHED",
			"mode MOUNT_CACHED takes one source"},
		{"local source without a name", "/data:\n    source: " + a + "\n    mode: COPY",
			"a local source (" + a + ") needs `name:`"},
		{"name and URI differ", "/data:\n    name: other\n    source: s3://bkt-one", "name \"other\" and source s3://bkt-one name different buckets"},
		{"store and URI differ", "/data:\n    source: s3://bkt-one\n    store: gcs", "store \"gcs\" does not match the source s3://bkt-one"},
		{"mixed sources", "/data:\n    name: bkt-one\n    source: [s3://bkt-one, " + a + "]\n    mode: COPY", "source mixes bucket URIs"},
		{"bad bucket name", "/data:\n    name: Bad_Name\n    source: " + a, "invalid bucket name \"Bad_Name\" for s3"},
		{"unsupported store", "/data:\n    name: bkt-one\n    store: azure\n    source: " + a, "store \"azure\" is not supported yet: use s3"},
		{"unsupported URI", "/data: cos://bkt-one", "the cos:// store is not supported yet"},
		{"two buckets on one destination", "/data: s3://bkt-one\n  /data/.:\n    source: s3://bkt-two",
			"both land on /data"},
		{"a local file inside a bucket mount", "/data:\n    source: s3://bkt-one\n  /data/x: " + a,
			"are nested (/data/x, /data)"},
		{"a bucket inside a local directory", "/data: " + dir + "\n  /data/sub:\n    source: s3://bkt-one",
			"are nested"},
		{"a bucket inside the workdir", "~/sky_workdir/ckpt:\n    source: s3://bkt-one", "the workdir and file_mounts ~/sky_workdir/ckpt"},
		{"no storage client", "/data: s3://bkt-one", "cannot reach object storage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, fakecloud.Options{Name: "fake-a", Places: []fakecloud.Place{{Region: "r1", Zone: "r1a", Price: 1}}})
			yaml := "run: echo hi\nfile_mounts:\n  " + tc.mounts + "\n"
			if strings.Contains(tc.mounts, "sky_workdir") {
				yaml = "workdir: " + dir + "\n" + yaml
			}
			_, err := w.m.Launch(context.Background(), task(t, yaml), api.LaunchOptions{ClusterName: "c"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("launch: %v\nwant an error saying %q", err, tc.want)
			}
			assertNothingMade(t, w)
		})
	}
}

// assertNothingMade fails unless no provisioning was tried and neither a cluster nor a bucket is recorded.
func assertNothingMade(t *testing.T, w *world) {
	t.Helper()
	ctx := context.Background()
	for name, f := range w.fakes {
		if n := len(f.Attempts()); n != 0 {
			t.Errorf("%s: %d provisioning attempts, want none", name, n)
		}
	}
	if cs, err := w.m.Status(ctx, nil, false); err != nil || len(cs) != 0 {
		t.Errorf("clusters recorded: %+v, %v", cs, err)
	}
	st, err := w.m.store(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := store.BucketsOf(st)
	if err != nil {
		t.Fatal(err)
	}
	if recs, err := tbl.List(ctx); err != nil || len(recs) != 0 {
		t.Errorf("buckets recorded: %+v, %v", recs, err)
	}
}
