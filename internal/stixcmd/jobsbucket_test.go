package stixcmd

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/storage"
	"github.com/stix-run/stix/internal/storage/s3"
	"github.com/stix-run/stix/internal/testutil/storagetest"
)

// With jobs.bucket, a managed job's local paths go to the bucket under a prefix of the request's own, each named
// in TaskSpec.Uploads by its URI (a single file by its object's); a launch that the server never takes deletes
// them again, and nothing is pushed to the upload route.
func TestJobsBucketUploads(t *testing.T) {
	srv := storagetest.MinIO(t)
	st, err := s3.New(s3.Config{Endpoint: storage.Endpoint{URL: srv.URL},
		Credentials: s3.Static{AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := st.CreateBucket(ctx, "stix-jb"); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	for f, body := range map[string]string{"proj/main.py": "print(1)\n", "data/d.txt": "delta\n", "one.txt": "single\n"} {
		os.MkdirAll(filepath.Dir(f), 0o755)
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	u, _ := storage.ParseURI("s3://stix-jb/pre")
	b := &jobsBucket{uri: u, key: "jobs.bucket", open: func(storage.Kind) (storage.Store, error) { return st, nil }}
	ts := api.TaskSpec{FileName: "t.yaml", YAML: "workdir: proj\nfile_mounts:\n  /d: ./data\n  /f: one.txt\n  /b: s3://x\nrun: ls\n"}
	got, undo, err := b.uploadToBucket(ctx, ts)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*regexp.Regexp{
		"proj":    regexp.MustCompile(`^s3://stix-jb/pre/job-[0-9a-f]{12}/workdir$`),
		"./data":  regexp.MustCompile(`^s3://stix-jb/pre/job-[0-9a-f]{12}/file-mounts/0$`),
		"one.txt": regexp.MustCompile(`^s3://stix-jb/pre/job-[0-9a-f]{12}/file-mounts/1/one.txt$`),
	}
	if len(got.Uploads) != len(want) {
		t.Fatalf("Uploads = %v", got.Uploads)
	}
	for k, re := range want {
		if !re.MatchString(got.Uploads[k]) {
			t.Errorf("Uploads[%s] = %q, want %s", k, got.Uploads[k], re)
		}
	}
	keys := func() (out []string) {
		st.List(ctx, "stix-jb", "pre/", func(o storage.Object) error { out = append(out, o.Key); return nil })
		return out
	}
	if k := keys(); len(k) != 3 {
		t.Errorf("objects %v, want the 3 files", k)
	}
	undo()
	if k := keys(); len(k) != 0 {
		t.Errorf("left after undo: %v", k)
	}

	// A launch the server never takes (nothing listens) leaves nothing in the bucket and pushes nothing.
	hc, err := api.NewHTTP(api.HTTPOptions{Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	c := uploadingClient{HTTPClient: hc, bucketOf: func(api.TaskSpec, string) (*jobsBucket, error) { return b, nil },
		push: func(context.Context, string, *http.Client, string, bool) (string, error) {
			t.Error("pushed to the upload route")
			return "", nil
		}}
	if _, err := c.JobsLaunch(ctx, api.JobsLaunchRequest{Task: ts}); err == nil {
		t.Fatal("launch against nothing succeeded")
	}
	if k := keys(); len(k) != 0 {
		t.Errorf("left after a launch that was not submitted: %v", k)
	}

	// A service's files (serve up and update) take the same way: the request names bucket URIs, and a request
	// the server refuses leaves nothing behind.
	var sent []map[string]string
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Task api.TaskSpec `json:"task"`
		}
		if json.NewDecoder(r.Body).Decode(&body) == nil && body.Task.Uploads != nil {
			sent = append(sent, body.Task.Uploads)
		}
		http.Error(w, `{"code":"internal","message":"refused"}`, http.StatusInternalServerError)
	}))
	defer refuse.Close()
	if c.HTTPClient, err = api.NewHTTP(api.HTTPOptions{Endpoint: refuse.URL}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ServeUp(ctx, api.ServeUpRequest{Task: ts}); err == nil {
		t.Fatal("serve up against a refusing server succeeded")
	}
	if _, err := c.ServeUpdate(ctx, api.ServeUpdateRequest{Name: "s", Task: ts}); err == nil {
		t.Fatal("serve update against a refusing server succeeded")
	}
	if len(sent) != 2 || !want["proj"].MatchString(sent[0]["proj"]) || !want["proj"].MatchString(sent[1]["proj"]) {
		t.Errorf("serve requests named %v; want the bucket's URIs", sent)
	}
	if k := keys(); len(k) != 0 {
		t.Errorf("left after serve requests that were refused: %v", k)
	}
}

// TestJobsBucketStorageEntries: with jobs.bucket a workdir leaves out what its .skyignore says, and a storage
// entry's local sources go to the entry's own bucket (made if missing, and then said so in TaskSpec.InBucket),
// not to the intermediate one; a request not submitted deletes the bucket made for it.
func TestJobsBucketStorageEntries(t *testing.T) {
	srv := storagetest.MinIO(t)
	st, err := s3.New(s3.Config{Endpoint: storage.Endpoint{URL: srv.URL},
		Credentials: s3.Static{AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, b := range []string{"stix-jb2", "stix-jb-mine"} {
		if err := st.CreateBucket(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(t.TempDir())
	for f, body := range map[string]string{"proj/main.py": "print(1)\n", "proj/secret.txt": "s\n", "proj/.skyignore": "secret.txt\n",
		"data/d.txt": "delta\n", "data/skip.txt": "x\n", "data/.skyignore": "skip.txt\n"} {
		os.MkdirAll(filepath.Dir(f), 0o755)
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	u, _ := storage.ParseURI("s3://stix-jb2/pre")
	b := &jobsBucket{uri: u, key: "jobs.bucket", open: func(storage.Kind) (storage.Store, error) { return st, nil }}
	ts := api.TaskSpec{FileName: "t.yaml", YAML: `workdir: proj
file_mounts:
  /new:
    name: stix-jb-new
    source: ./data
    mode: COPY
  /mine:
    name: stix-jb-mine
    source: ./data
run: ls
`}
	got, undo, err := b.uploadToBucket(ctx, ts)
	if err != nil {
		t.Fatal(err)
	}
	keys := func(bucket, prefix string) (out []string) {
		st.List(ctx, bucket, prefix, func(o storage.Object) error { out = append(out, o.Key); return nil })
		return out
	}
	if len(got.Uploads) != 1 || got.Uploads["proj"] == "" {
		t.Errorf("Uploads = %v, want the workdir only", got.Uploads)
	}
	if k := keys("stix-jb2", "pre/"); len(k) != 2 || !strings.HasSuffix(k[0], "workdir/.skyignore") || !strings.HasSuffix(k[1], "workdir/main.py") {
		t.Errorf("intermediate bucket holds %v, want the workdir without secret.txt", k)
	}
	for _, bk := range []string{"stix-jb-new", "stix-jb-mine"} {
		if k := keys(bk, ""); !slices.Equal(k, []string{".skyignore", "d.txt"}) {
			t.Errorf("bucket %s holds %v, want the source without skip.txt", bk, k)
		}
	}
	if want := map[string]api.SourcesInBucket{"/new": {Created: true}, "/mine": {}}; !maps.Equal(got.InBucket, want) {
		t.Errorf("InBucket = %v, want %v", got.InBucket, want)
	}
	undo()
	if ok, err := st.BucketExists(ctx, "stix-jb-new"); err != nil || ok {
		t.Errorf("the bucket made for a request not submitted: exists %v, %v", ok, err)
	}
	if ok, err := st.BucketExists(ctx, "stix-jb-mine"); err != nil || !ok {
		t.Errorf("a bucket that was there before: exists %v, %v", ok, err)
	}
}
