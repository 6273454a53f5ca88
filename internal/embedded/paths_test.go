package embedded

import (
	"context"
	"slices"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/spec"
)

// TestPathsOfARemoteClient: an API server's client sends its working directory and its uploaded trees; the
// core reads the trees for the paths uploaded and resolves other relative paths against the client's directory.
func TestPathsOfARemoteClient(t *testing.T) {
	t.Parallel()
	yaml := "workdir: proj\nfile_mounts:\n  /d: ./data\n  /b: s3://bucket/x\n  /h: ~/h\nrun: ls\n"
	c := New(Options{Core: cluster.Options{Home: t.TempDir()}, ResolveUpload: func(id, _ string) (string, error) {
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

// TestStorageSourcesOfARemoteClient: a storage entry's local sources are read where the client uploaded them
// (several keep their names, as each is stored under its own), else against the client's directory; an entry
// whose sources the client put in its own bucket (TaskSpec.InBucket) keeps no local source.
func TestStorageSourcesOfARemoteClient(t *testing.T) {
	t.Parallel()
	yaml := `file_mounts:
  /one:
    name: b1
    source: ./data
  /many:
    name: b2
    mode: COPY
    source: [./data, ./more, other]
  /done:
    name: b3
    source: ./data
run: ls
`
	c := New(Options{Core: cluster.Options{Home: t.TempDir()}, ResolveUpload: func(id, name string) (string, error) {
		if name != "" {
			return "/srv/names/" + id + "/" + name, nil
		}
		return "/srv/uploads/" + id, nil
	}})
	task, _, err := c.task(context.Background(), api.TaskSpec{FileName: "t.yaml", YAML: yaml, Dir: "/home/ada/work",
		Uploads:  map[string]string{"./data": "t1", "./more": "t2"},
		InBucket: map[string]api.SourcesInBucket{"/done": {Created: true}}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*spec.StorageSpec{}
	for _, m := range task.FileMounts {
		got[m.Dest] = m.Storage
	}
	if s := got["/one"].Sources; !slices.Equal(s, []string{"/srv/uploads/t1"}) {
		t.Errorf("one source = %v", s)
	}
	if s := got["/many"].Sources; !slices.Equal(s, []string{"/srv/names/t1/data", "/srv/names/t2/more", "/home/ada/work/other"}) {
		t.Errorf("several sources = %v", s)
	}
	if d := got["/done"]; len(d.Sources) != 0 || !d.MadeByClient || d.Name != "b3" {
		t.Errorf("an entry in its bucket = %+v", d)
	}
	// The records name the client's paths.
	if s := got["/many"].ClientSources; !slices.Equal(s, []string{"/home/ada/work/data", "/home/ada/work/more", "/home/ada/work/other"}) {
		t.Errorf("several sources as the client has them = %v", s)
	}
	if s := got["/done"].ClientSources; !slices.Equal(s, []string{"/home/ada/work/data"}) {
		t.Errorf("an entry in its bucket, as the client has it = %v", s)
	}
}
