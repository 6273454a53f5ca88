package services

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/embedded"
	"github.com/stix-run/stix/internal/store"
)

// TestUploadsInUse: the uploaded trees every version of a live service names are in use (its replicas are
// launched again from them); a service gone names none.
func TestUploadsInUse(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	core := embedded.New(embedded.Options{Core: cluster.Options{Home: home, DBOrigin: "the test"}})
	defer core.Close()
	st, err := store.OpenAt(ctx, store.Location{Home: home, DBOrigin: "the test"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctl, err := New(Options{Core: core, State: st, Dir: filepath.Join(home, "server")}) // not started: nothing runs the rows
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	at := time.Unix(1700000000, 0)
	for _, r := range []*Row{
		{Name: "web", Version: 2, LBPort: 30001, Spec: Spec{Versions: map[int]api.TaskSpec{
			1: {YAML: "run: x", Uploads: map[string]string{"app": "t-web-1"}},
			2: {YAML: "run: y", Uploads: map[string]string{"app": "t-web-2", "./data": "t-data"}}}}},
		{Name: "old", Version: 1, LBPort: 30002, Spec: Spec{Versions: map[int]api.TaskSpec{1: {YAML: "run: x", Uploads: map[string]string{"app": "t-old"}}}}},
		{Name: "plain", Version: 1, LBPort: 30003, Spec: Spec{Versions: map[int]api.TaskSpec{1: {YAML: "run: x"}}}},
	} {
		r.User, r.CreatedAt, r.Status = "u", at, api.ServiceReady
		if err := ctl.st.Insert(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := ctl.st.Delete(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	got, err := ctl.UploadsInUse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if want := []string{"t-data", "t-web-1", "t-web-2"}; !slices.Equal(got, want) {
		t.Errorf("UploadsInUse = %v, want %v", got, want)
	}
}

// TestForgottenServiceDropsItsBucketUploads: once a service is forgotten, what its versions put in the
// intermediate bucket (config `jobs.bucket`) goes to Options.DropUploads, each URI once; upload-route trees do not.
func TestForgottenServiceDropsItsBucketUploads(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	core := embedded.New(embedded.Options{Core: cluster.Options{Home: home, DBOrigin: "the test"}})
	defer core.Close()
	st, err := store.OpenAt(ctx, store.Location{Home: home, DBOrigin: "the test"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var dropped []string
	ctl, err := New(Options{Core: core, State: st, Dir: filepath.Join(home, "server"),
		DropUploads: func(_ context.Context, uris []string) error { dropped = append(dropped, uris...); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	r := &Row{Name: "web", Version: 2, LBPort: 30001, User: "u", CreatedAt: time.Unix(1700000000, 0),
		Status: api.ServiceControllerFailed, Spec: Spec{Versions: map[int]api.TaskSpec{
			1: {YAML: "run: x", Uploads: map[string]string{"app": "s3://b/job-1/workdir"}},
			2: {YAML: "run: y", Uploads: map[string]string{"app": "s3://b/job-1/workdir", "./d": "s3://b/job-2/file-mounts/0", "x": "tree-1"}}}}}
	if err := ctl.st.Insert(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.waitGone(ctx, "web", false); err != nil {
		t.Fatal(err)
	}
	if want := []string{"s3://b/job-1/workdir", "s3://b/job-2/file-mounts/0"}; !slices.Equal(dropped, want) {
		t.Errorf("dropped %v, want %v", dropped, want)
	}
	if _, err := ctl.st.Get(ctx, "web"); err == nil {
		t.Error("the service is still recorded")
	}
}
