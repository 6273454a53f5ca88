package jobs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/storage"
	"github.com/stix-run/stix/internal/storage/s3"
	"github.com/stix-run/stix/internal/testutil/storagetest"
)

// TestCheckpointMountCachedRecovers: a managed job keeps its checkpoint in a MOUNT_CACHED bucket (MinIO, reached
// by the controller's core through the AWS variables); its cluster is preempted once the checkpoint is in the
// bucket, and the job, recovered on a new cluster in another region, mounts the bucket again, reads the
// checkpoint, writes the next step and succeeds. The last step is in the bucket once the job is SUCCEEDED (the
// flush before a job is reported finished).
func TestCheckpointMountCachedRecovers(t *testing.T) {
	t.Parallel()
	srv := storagetest.MinIO(t)
	env := map[string]string{"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey,
		"AWS_ENDPOINT_URL_S3": srv.URL, "AWS_REGION": srv.Region}
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		if strings.HasPrefix(k, "AWS_") { // nothing of this machine's AWS set-up
			return ""
		}
		return os.Getenv(k)
	}
	w := newWorldEnv(t, t.TempDir(), "", "server", getenv, twoRegions)
	ctx := context.Background()
	s3c, err := s3.New(s3.Config{Endpoint: storage.Endpoint{URL: srv.URL},
		Credentials: s3.Static{AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey}})
	if err != nil {
		t.Fatal(err)
	}
	const bucket = "stix-ckpt-recover"
	if err := s3c.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	id := w.launch(t, `name: ckpt
file_mounts:
  ~/ckpt:
    name: `+bucket+`
    mode: MOUNT_CACHED
run: |
  if [ -f ~/ckpt/step ]; then
    s=$(cat ~/ckpt/step)
    echo "resumed from step $s"
    echo $((s + 1)) > ~/ckpt/step
    exit 0
  fi
  echo 1 > ~/ckpt/step
  echo "checkpoint step 1 written"
  sleep 600
`, nil)
	r := w.waitFor(t, id, 0, api.ManagedRunning)
	// "Checkpoint saved" is the object in the bucket: rclone uploads a closed file 1 s later (write-back), and
	// a preemption may come before a job ends, so the test waits for the store, not for the node.
	if got := waitObject(t, s3c, bucket, "step", "1\n"); got != "1\n" {
		t.Fatalf("checkpoint %q", got)
	}
	w.waitOutput(t, id, "checkpoint step 1 written")
	first := r.Cluster
	if err := w.fakes["fk"].Preempt(ctx, cloud.ClusterRef{Name: first}); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, id, 0, api.ManagedRecovering, api.ManagedRunning, api.ManagedSucceeded)
	r = w.waitFor(t, id, 0, api.ManagedSucceeded)
	if r.Recoveries != 1 || !strings.Contains(reasons(r), "RECOVERING:preempted") {
		t.Errorf("recoveries %d, events %s", r.Recoveries, reasons(r))
	}
	out := w.logs(t, id)
	if !strings.Contains(out, "checkpoint step 1 written") || !strings.Contains(out, "resumed from step 1") {
		t.Errorf("output %q: want the first run's checkpoint and the second run resuming from it", out)
	}
	// Reported SUCCEEDED only once the second step is in the bucket.
	if got := readObject(t, s3c, bucket, "step"); got != "2\n" {
		t.Errorf("step in the bucket after the job: %q, want 2", got)
	}
	if regions := places(w.fakes["fk"].Attempts()); strings.Join(regions, " ") != "r1/r1a r2/r2a" {
		t.Errorf("attempts %v: want a new cluster in the other region", regions)
	}
	if cs := w.clusters(t); len(cs) != 0 {
		t.Errorf("clusters left: %+v", cs)
	}
	// The bucket was the user's: the job's clusters going does not delete it.
	if ok, err := s3c.BucketExists(ctx, bucket); err != nil || !ok {
		t.Errorf("bucket after the job: %v, %v", ok, err)
	}
}

// readObject returns an object's content, "" when there is none.
func readObject(t *testing.T, c *s3.Client, bucket, key string) string {
	t.Helper()
	rc, _, err := c.Get(context.Background(), bucket, key)
	if errors.Is(err, storage.ErrNoSuchKey) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(rc); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// waitObject waits (one minute at most) until bucket/key holds want, and returns what it holds then.
func waitObject(t *testing.T, c *s3.Client, bucket, key, want string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		got := readObject(t, c, bucket, key)
		if got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
}
