package embedded

import (
	"context"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cluster"
)

// TestPathsOfARemoteClient: an API server's client sends its working directory and its uploaded trees; the
// core reads the trees for the paths uploaded and resolves other relative paths against the client's directory.
func TestPathsOfARemoteClient(t *testing.T) {
	t.Parallel()
	yaml := "workdir: proj\nfile_mounts:\n  /d: ./data\n  /b: s3://bucket/x\n  /h: ~/h\nrun: ls\n"
	c := New(Options{Core: cluster.Options{Home: t.TempDir()}, ResolveUpload: func(id string) (string, error) {
		return "/srv/uploads/" + id, nil
	}})
	task, _, err := c.task(context.Background(), api.TaskSpec{FileName: "t.yaml", YAML: yaml, Dir: "/home/ada/work",
		Uploads: map[string]string{"proj": "t1"}})
	if err != nil {
		t.Fatal(err)
	}
	if task.Workdir.Path != "/srv/uploads/t1" {
		t.Errorf("workdir = %s", task.Workdir.Path)
	}
	got := map[string]string{}
	for _, m := range task.FileMounts {
		got[m.Dest] = m.Source
	}
	if got["/d"] != "/home/ada/work/data" || got["/b"] != "s3://bucket/x" || got["/h"] != "~/h" {
		t.Errorf("file mount sources = %v", got)
	}
	// A core that takes no uploads refuses a task that names one.
	c2 := New(Options{Core: cluster.Options{Home: t.TempDir()}})
	if _, _, err := c2.task(context.Background(), api.TaskSpec{FileName: "t.yaml", YAML: yaml, Uploads: map[string]string{"proj": "t1"}}); err == nil {
		t.Error("a core without uploads accepted an uploaded tree")
	}
}
