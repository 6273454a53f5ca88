package cluster

import (
	"context"
	"strings"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/testutil/storagetest"
)

// TestStorageRemountUsesTheRecordedEndpoint: `stix start` mounts a cluster's buckets again on the endpoint the
// launch made them on, recorded with the mounts, not the one the caller's environment names now (here a port
// where nothing listens); the credentials are the caller's, resolved anew.
func TestStorageRemountUsesTheRecordedEndpoint(t *testing.T) {
	t.Parallel()
	w := newMinIOWorld(t, "")
	ctx := context.Background()
	yaml := "run: echo kept > ~/out/k.txt\nfile_mounts:\n  ~/out:\n    name: stix-remount-ep\n  ~/copied:\n    name: stix-remount-ep\n    mode: COPY\n"
	res, err := w.m.Launch(ctx, task(t, yaml), api.LaunchOptions{ClusterName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if status, out := w.finish(t, "c", res.JobID); status != "SUCCEEDED" {
		t.Fatalf("job: %s, %q", status, out)
	}
	st, _ := w.m.store(ctx)
	if v, _, _ := st.GetValue(ctx, mountsKey("c")); !strings.Contains(v, w.url) || strings.Contains(v, storagetest.SecretKey) {
		t.Fatalf("recorded mounts %q: want the endpoint %s, no secret", v, w.url)
	}
	if err := w.m.Stop(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AWS_ACCESS_KEY_ID": storagetest.AccessKey, "AWS_SECRET_ACCESS_KEY": storagetest.SecretKey,
		"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:1"}
	w.m.newBuckets = EnvBuckets(credcheck.Env{Getenv: func(k string) string { return env[k] }}, nil)
	if err := w.m.Start(ctx, "c", nil); err != nil {
		t.Fatal(err)
	}
	res, err = w.m.Exec(ctx, "c", task(t, "run: cat ~/out/k.txt ~/copied/k.txt\n"), api.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if status, out := w.finish(t, "c", res.JobID); status != "SUCCEEDED" || strings.Count(out, "kept") != 2 {
		t.Errorf("after start: %s, %q; want the bucket mounted and copied again from its own endpoint", status, out)
	}
}
