package cluster

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/storage"
)

// TestStorageCopyMinIO: COPY puts a bucket's files on the node's disk before the job: several local sources
// uploaded to one managed bucket (each directory under its own name, each file by its name), and a bucket URI's
// sub-path.
func TestStorageCopyMinIO(t *testing.T) {
	t.Parallel()
	w := newMinIOWorld(t, "")
	ctx := context.Background()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "set"), 0o755)
	for name, body := range map[string]string{"set/x.txt": "ex\n", "b.txt": "bee\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.s3.CreateBucket(ctx, "stix-uri-src"); err != nil {
		t.Fatal(err)
	}
	body := []byte("from the uri\n")
	if _, err := w.s3.Put(ctx, "stix-uri-src", "sub/k.txt", bytes.NewReader(body), int64(len(body)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	yaml := "run: cat ~/c/set/x.txt ~/c/b.txt ~/u/k.txt\nfile_mounts:\n" +
		"  ~/c:\n    name: stix-copy-multi\n    mode: COPY\n    source: [" + filepath.Join(dir, "set") + ", " + filepath.Join(dir, "b.txt") + "]\n" +
		"  ~/u: s3://stix-uri-src/sub\n"
	res, err := w.m.Launch(ctx, task(t, yaml), api.LaunchOptions{ClusterName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	status, out := w.finish(t, "c", res.JobID)
	for _, want := range []string{"ex", "bee", "from the uri"} {
		if status != "SUCCEEDED" || !strings.Contains(out, want) {
			t.Errorf("job: %s, output %q; want %q", status, out, want)
		}
	}
	if w.record(t, "stix-uri-src") != nil {
		t.Error("a bucket given by URI was recorded")
	}
}
