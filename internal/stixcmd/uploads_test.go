package stixcmd

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/stix-run/stix/api"
)

// TestUploadsTheTasksPaths: in server mode a task's local paths (workdir, file mounts: directories and single
// files) are pushed before the launch and named in TaskSpec.Uploads as the task writes them; bucket URIs,
// missing paths and a workdir that is a file are not pushed.
func TestUploadsTheTasksPaths(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, d := range []string{"proj", "data"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile("one.txt", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	hc, err := api.NewHTTP(api.HTTPOptions{Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	pushed := map[string]bool{}
	c := uploadingClient{HTTPClient: hc, push: func(_ context.Context, base string, _ *http.Client, p string, workdir bool) (string, error) {
		if base != "http://127.0.0.1:1/api/v1/uploads" {
			t.Errorf("pushed to %s", base)
		}
		pushed[p] = workdir
		return "tree-" + filepath.Base(p), nil
	}}
	ts := api.TaskSpec{FileName: "task.yaml", YAML: "workdir: proj\nfile_mounts:\n  /d: ./data\n  /f: one.txt\n  /b: s3://bucket\n  /m: missing\nrun: ls\n"}
	got, err := c.upload(context.Background(), ts, true)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"proj": "tree-proj", "./data": "tree-data", "one.txt": "tree-one.txt"}
	if !maps.Equal(got.Uploads, want) {
		t.Errorf("Uploads = %v, want %v", got.Uploads, want)
	}
	if w, ok := pushed[filepath.Join(dir, "proj")]; !ok || !w {
		t.Errorf("pushed %v: want proj as a workdir", pushed)
	}
	if w, ok := pushed[filepath.Join(dir, "data")]; !ok || w {
		t.Errorf("pushed %v: want data as a file mount", pushed)
	}
	if w, ok := pushed[filepath.Join(dir, "one.txt")]; !ok || w {
		t.Errorf("pushed %v: want one.txt as a file mount", pushed)
	}
	// A workdir must be a directory: the core says so, nothing is pushed.
	f := "one.txt"
	got, err = c.upload(context.Background(), api.TaskSpec{Command: "ls", Overrides: api.TaskOverrides{Workdir: &f}}, true)
	if err != nil || len(got.Uploads) != 0 {
		t.Errorf("with a file as --workdir: %v, %v", got.Uploads, err)
	}
	// --workdir replaces the task's workdir.
	wd := "data"
	got, err = c.upload(context.Background(), api.TaskSpec{Command: "ls", Overrides: api.TaskOverrides{Workdir: &wd}}, true)
	if err != nil || len(got.Uploads) != 1 || got.Uploads["data"] != "tree-data" {
		t.Errorf("with --workdir: %v, %v", got.Uploads, err)
	}
	// A managed job's pipeline: every task's directories.
	clear(pushed)
	pipe := api.TaskSpec{FileName: "p.yaml", Pipeline: true,
		YAML: "name: p\n---\nworkdir: proj\nrun: ls\n---\nfile_mounts:\n  /d: ./data\nrun: ls\n"}
	got, err = c.upload(context.Background(), pipe, true)
	if err != nil || len(got.Uploads) != 2 || got.Uploads["proj"] != "tree-proj" || got.Uploads["./data"] != "tree-data" {
		t.Errorf("a pipeline's Uploads = %v, %v", got.Uploads, err)
	}
}

// TestUploadsAServicesPaths: `serve up` and `serve update` through a server push the service's task's local
// paths as a launch does, and the request the server gets names them in TaskSpec.Uploads.
func TestUploadsAServicesPaths(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("app", 0o755); err != nil {
		t.Fatal(err)
	}
	got := map[string]api.TaskSpec{}
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Task api.TaskSpec `json:"task"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("%s: %v", r.URL.Path, err)
		}
		mu.Lock()
		got[r.URL.Path] = req.Task
		mu.Unlock()
		http.Error(w, "no", http.StatusTeapot) // the request is what is looked at
	}))
	defer srv.Close()
	hc, err := api.NewHTTP(api.HTTPOptions{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	c := uploadingClient{HTTPClient: hc, push: func(_ context.Context, _ string, _ *http.Client, p string, _ bool) (string, error) {
		return "tree-" + filepath.Base(p), nil
	}}
	ts := api.TaskSpec{FileName: "svc.yaml", YAML: "service:\n  readiness_probe: /\n  replicas: 1\nworkdir: app\nrun: ls\n"}
	ctx := context.Background()
	_, _ = c.ServeUp(ctx, api.ServeUpRequest{Task: ts, Name: "web"})
	_, _ = c.ServeUpdate(ctx, api.ServeUpdateRequest{Name: "web", Task: ts})
	want := map[string]string{"app": "tree-app"}
	for _, p := range []string{"/api/v1/serve/up", "/api/v1/serve/update"} {
		if task, ok := got[p]; !ok || !maps.Equal(task.Uploads, want) {
			t.Errorf("%s: sent %v (sent: %v), want Uploads %v", p, task.Uploads, ok, want)
		}
	}
}

// TestUploadsInUseCombined: the GC keeps the trees of managed jobs and of services; when either list fails, the
// whole does (the GC then removes nothing).
func TestUploadsInUseCombined(t *testing.T) {
	list := func(ids ...string) func(context.Context) ([]string, error) {
		return func(context.Context) ([]string, error) { return ids, nil }
	}
	got, err := uploadsInUse(list("job-1"), list("svc-1", "svc-2"))(context.Background())
	if want := []string{"job-1", "svc-1", "svc-2"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("uploadsInUse = %v, %v; want %v", got, err, want)
	}
	failing := func(context.Context) ([]string, error) { return nil, errors.New("store down") }
	if got, err := uploadsInUse(list("job-1"), failing)(context.Background()); err == nil {
		t.Errorf("with a failing list: %v, want its error", got)
	}
}

// TestUploadsAStorageEntrysSources: through an API server a storage entry's local sources (one, or a list) are
// pushed like file mounts, leaving out what .skyignore/.gitignore say, and named in TaskSpec.Uploads; a bucket
// URI is not pushed.
func TestUploadsAStorageEntrysSources(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, d := range []string{"data", "more"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	hc, err := api.NewHTTP(api.HTTPOptions{Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	pushed := map[string]bool{}
	c := uploadingClient{HTTPClient: hc, push: func(_ context.Context, _ string, _ *http.Client, p string, ignore bool) (string, error) {
		pushed[p] = ignore
		return "tree-" + filepath.Base(p), nil
	}}
	ts := api.TaskSpec{FileName: "task.yaml", YAML: `file_mounts:
  /one:
    name: b1
    source: ./data
  /many:
    name: b2
    mode: COPY
    source: [./data, more]
  /uri:
    source: s3://bucket/x
run: ls
`}
	got, err := c.upload(context.Background(), ts, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"./data": "tree-data", "more": "tree-more"}; !maps.Equal(got.Uploads, want) {
		t.Errorf("Uploads = %v, want %v", got.Uploads, want)
	}
	if want := map[string]bool{filepath.Join(dir, "data"): true, filepath.Join(dir, "more"): true}; !maps.Equal(pushed, want) {
		t.Errorf("pushed %v, want %v (with ignore files honoured)", pushed, want)
	}
}

// TestExecPushesNoStorageSources: exec syncs plain local files only (buckets are a launch's), so it pushes no
// storage entry's source.
func TestExecPushesNoStorageSources(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.Mkdir("data", 0o755); err != nil {
		t.Fatal(err)
	}
	hc, err := api.NewHTTP(api.HTTPOptions{Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	c := uploadingClient{HTTPClient: hc, push: func(_ context.Context, _ string, _ *http.Client, p string, _ bool) (string, error) {
		t.Errorf("exec pushed %s", p)
		return "", nil
	}}
	_, _ = c.Exec(context.Background(), api.ExecRequest{Cluster: "c", Task: api.TaskSpec{FileName: "t.yaml",
		YAML: "file_mounts:\n  /one:\n    name: b1\n    source: ./data\nrun: ls\n"}})
}
