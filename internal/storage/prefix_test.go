package storage_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/stix-run/stix/internal/storage"
)

// DeletePrefix deletes a "directory" (prefix/...), or the one object the prefix names, never a sibling
// whose key merely starts with the same letters.
func TestDeletePrefix(t *testing.T) {
	stores(t, func(t *testing.T, st storage.Store) {
		ctx := ctxFor(t)
		if err := st.CreateBucket(ctx, "stix-prefix"); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"j/job-1/workdir/a", "j/job-1/file-mounts/0/b", "j/job-10/c", "k", "f/one.txt"} {
			if _, err := st.Put(ctx, "stix-prefix", k, bytes.NewReader([]byte(k)), int64(len(k)), storage.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		n, err := storage.DeletePrefix(ctx, st, "stix-prefix", "j/job-1/")
		if err != nil || n != 2 {
			t.Fatalf("DeletePrefix = %d, %v; want 2 deleted", n, err)
		}
		if n, err := storage.DeletePrefix(ctx, st, "stix-prefix", "f/one.txt"); err != nil || n != 1 {
			t.Fatalf("DeletePrefix of one object = %d, %v; want 1 deleted", n, err)
		}
		var left []string
		if err := st.List(ctx, "stix-prefix", "", func(o storage.Object) error { left = append(left, o.Key); return nil }); err != nil {
			t.Fatal(err)
		}
		if want := []string{"j/job-10/c", "k"}; !slices.Equal(left, want) {
			t.Errorf("left %v, want %v", left, want)
		}
		if n, err := storage.DeletePrefix(ctx, st, "stix-prefix", "j/job-1"); err != nil || n != 0 {
			t.Errorf("again: %d, %v; want nothing to delete", n, err)
		}
	})
}
