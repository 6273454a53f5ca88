package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestStorageRecords(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc Location) {
		ctx := context.Background()
		b, err := BucketsOf(openTest(t, loc))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Get(ctx, "nope"); !IsNotFound(err) {
			t.Fatalf("Get of an unknown bucket: %v, want not found", err)
		}
		want := &Storage{Name: "ckpt", Store: "s3", Sources: []string{"/data/a", "/data/b"}, Endpoint: "http://127.0.0.1:9000",
			Region: "us-east-1", Managed: true, Persistent: false, User: "alice", Workspace: "team-a", Cluster: "c1",
			Status: StorageUploading, LaunchedAt: t0, UpdatedAt: t0, Command: "stix launch task.yaml"}
		if err := b.Put(ctx, want); err != nil {
			t.Fatal(err)
		}
		ext := &Storage{Name: "ext", Store: "gcs", User: "bob", Cluster: "c2", Status: StorageReady, LaunchedAt: t0, UpdatedAt: t0}
		if err := b.Put(ctx, ext); err != nil {
			t.Fatal(err)
		}
		later := t0.Add(time.Minute)
		if err := b.SetStatus(ctx, "ckpt", StorageReady, later); err != nil {
			t.Fatal(err)
		}
		if err := b.SetStatus(ctx, "nope", StorageReady, later); !IsNotFound(err) {
			t.Fatalf("SetStatus of an unknown bucket: %v", err)
		}
		got, err := b.Get(ctx, "ckpt")
		if err != nil {
			t.Fatal(err)
		}
		want.Status, want.UpdatedAt = StorageReady, later
		assertSameStorage(t, got, want)

		all, err := b.List(ctx)
		if err != nil || len(all) != 2 || all[0].Name != "ckpt" || all[1].Name != "ext" {
			t.Fatalf("List = %v, %v", all, err)
		}
		if all[1].Workspace != "default" || all[1].Sources != nil && len(all[1].Sources) != 0 {
			t.Errorf("defaults: %+v", all[1])
		}
		of, err := b.OfCluster(ctx, "c2")
		if err != nil || len(of) != 1 || of[0].Name != "ext" {
			t.Fatalf("OfCluster(c2) = %v, %v", of, err)
		}
		// Put replaces: the record follows the last launch that used it.
		want.Cluster, want.Command = "c3", "stix launch -c c3"
		if err := b.Put(ctx, want); err != nil {
			t.Fatal(err)
		}
		if got, _ := b.Get(ctx, "ckpt"); got.Cluster != "c3" || got.Command != "stix launch -c c3" {
			t.Errorf("after a second Put: %+v", got)
		}
		if err := b.Delete(ctx, "ckpt"); err != nil {
			t.Fatal(err)
		}
		if err := b.Delete(ctx, "ckpt"); err != nil {
			t.Fatalf("a second Delete: %v", err)
		}
		var nf *StorageNotFoundError
		if _, err := b.Get(ctx, "ckpt"); !errors.As(err, &nf) {
			t.Fatalf("Get after Delete: %v", err)
		}
	})
}

func assertSameStorage(t *testing.T, got, want *Storage) {
	t.Helper()
	g, w := *got, *want
	g.LaunchedAt, g.UpdatedAt, w.LaunchedAt, w.UpdatedAt = g.LaunchedAt.UTC(), g.UpdatedAt.UTC(), w.LaunchedAt.UTC(), w.UpdatedAt.UTC()
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("storage mismatch\n got: %+v\nwant: %+v", g, w)
	}
}
