package jobs

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
)

// When a job has ended, succeeded or failed, the controller hands Options.DropUploads the bucket URIs its tasks
// name in TaskSpec.Uploads (config jobs.bucket), once, and says so in the controller log; tree IDs of the
// server's upload route are not bucket URIs and are left to the server's garbage collection.
func TestDropUploadsWhenJobEnds(t *testing.T) {
	t.Parallel()
	w := newWorld(t, twoRegions)
	w.ctl.Close()
	dropped := make(chan []string, 4)
	w.opts.DropUploads = func(_ context.Context, uris []string) error {
		dropped <- uris
		return nil
	}
	w.start(t)
	for _, c := range []struct {
		run  string
		want api.ManagedJobStatus
	}{{"exit 0", api.ManagedSucceeded}, {"exit 3", api.ManagedFailed}} {
		res, err := api.Wait(w.ctl.Client().JobsLaunch(context.Background(), api.JobsLaunchRequest{Task: api.TaskSpec{
			YAML: "run: " + c.run + "\n", FileName: "job.yaml",
			Uploads: map[string]string{"./b": "s3://bkt/p/job-1/file-mounts/0", "./a": "s3://bkt/p/job-1/workdir", "./t": "tree-123"}}}))
		if err != nil {
			t.Fatal(err)
		}
		w.waitFor(t, res.IDs[0], 0, c.want)
		select {
		case got := <-dropped:
			if want := []string{"s3://bkt/p/job-1/file-mounts/0", "s3://bkt/p/job-1/workdir"}; !slices.Equal(got, want) {
				t.Errorf("%s: dropped %v, want %v", c.want, got, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: the job's uploads were not dropped", c.want)
		}
		w.waitControllerLog(t, res.IDs[0], "deleted the job's files from the intermediate bucket: s3://bkt/p/job-1/file-mounts/0, s3://bkt/p/job-1/workdir")
	}
	select {
	case got := <-dropped:
		t.Errorf("dropped again: %v", got)
	default:
	}
}

// waitControllerLog waits (30 s at most) until job id's controller log has want.
func (w *world) waitControllerLog(t *testing.T, id int64, want string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(w.controllerLog(id), want); {
		if time.Now().After(deadline) {
			t.Fatalf("controller log lacks %q:\n%s", want, w.controllerLog(id))
		}
		time.Sleep(20 * time.Millisecond) // polling a file, with a deadline
	}
}
