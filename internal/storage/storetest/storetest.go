// Package storetest is the behaviour every storage.Store must have, as tests: the S3 client's tests run it against
// MinIO and the GCS client's against fake-gcs-server. The store given should upload objects of 8 MiB or more in
// parts (or chunks) of 5 MiB and list pages of at most 100 objects, so that both paths are exercised.
package storetest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/storage"
)

// Run runs the behaviour tests against st, in buckets named after prefix.
func Run(t *testing.T, st storage.Store, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bucket := prefix + "-conf"

	t.Run("MissingBucket", func(t *testing.T) {
		missing := prefix + "-missing"
		ok, err := st.BucketExists(ctx, missing)
		if err != nil || ok {
			t.Fatalf("BucketExists(missing) = %v, %v; want false, nil", ok, err)
		}
		err = st.List(ctx, missing, "", func(storage.Object) error { return nil })
		wantKind(t, err, storage.ErrNoSuchBucket)
		_, err = st.Put(ctx, missing, "k", bytes.NewReader([]byte("x")), 1, storage.PutOptions{})
		wantKind(t, err, storage.ErrNoSuchBucket)
		err = st.DeleteBucket(ctx, missing, false)
		wantKind(t, err, storage.ErrNoSuchBucket)
	})

	if err := st.CreateBucket(ctx, bucket); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	if ok, err := st.BucketExists(ctx, bucket); err != nil || !ok {
		t.Fatalf("BucketExists after CreateBucket = %v, %v", ok, err)
	}

	t.Run("CreateTwice", func(t *testing.T) {
		err := st.CreateBucket(ctx, bucket)
		wantKind(t, err, storage.ErrBucketOwnedByYou)
	})

	t.Run("InvalidName", func(t *testing.T) {
		err := st.CreateBucket(ctx, "Not_A_Bucket!")
		wantKind(t, err, storage.ErrInvalidName)
	})

	t.Run("PutStatGet", func(t *testing.T) {
		keys := []string{"small.txt", "dir/sub/a b+c~é&=?.bin", "empty"}
		for i, key := range keys {
			data := []byte(fmt.Sprintf("content %d of %s", i, key))
			if key == "empty" {
				data = nil
			}
			put, err := st.Put(ctx, bucket, key, bytes.NewReader(data), int64(len(data)),
				storage.PutOptions{Metadata: map[string]string{"owner": "stix-test"}})
			if err != nil {
				t.Fatalf("Put %q: %v", key, err)
			}
			if put.MD5 != md5hex(data) {
				t.Errorf("Put %q: MD5 %q, want %q", key, put.MD5, md5hex(data))
			}
			o, err := st.Stat(ctx, bucket, key)
			if err != nil {
				t.Fatalf("Stat %q: %v", key, err)
			}
			if o.Size != int64(len(data)) || o.MD5 != md5hex(data) || o.Metadata["owner"] != "stix-test" {
				t.Errorf("Stat %q = size %d md5 %q meta %v; want %d, %s, owner=stix-test", key, o.Size, o.MD5, o.Metadata,
					len(data), md5hex(data))
			}
			got := get(ctx, t, st, bucket, key)
			if !bytes.Equal(got, data) {
				t.Errorf("Get %q = %q, want %q", key, got, data)
			}
		}
		_, err := st.Stat(ctx, bucket, "no/such/key")
		wantKind(t, err, storage.ErrNoSuchKey)
		_, _, err = st.Get(ctx, bucket, "no/such/key")
		wantKind(t, err, storage.ErrNoSuchKey)
	})

	t.Run("Large", func(t *testing.T) {
		// 20 MiB + 3 bytes: four full 5 MiB parts and a short last one.
		data := make([]byte, 20<<20+3)
		r := rand.NewChaCha8([32]byte{1})
		_, _ = r.Read(data)
		o, err := st.Put(ctx, bucket, "large/blob", bytes.NewReader(data), int64(len(data)), storage.PutOptions{})
		if err != nil {
			t.Fatalf("Put large: %v", err)
		}
		if o.MD5 != md5hex(data) {
			t.Errorf("Put large: MD5 %q, want %q", o.MD5, md5hex(data))
		}
		s, err := st.Stat(ctx, bucket, "large/blob")
		if err != nil || s.Size != int64(len(data)) || s.MD5 != md5hex(data) {
			t.Errorf("Stat large = %+v, %v; want size %d, MD5 %s", s, err, len(data), md5hex(data))
		}
		if got := get(ctx, t, st, bucket, "large/blob"); !bytes.Equal(got, data) {
			t.Errorf("Get large: %d bytes back, differing from the %d put", len(got), len(data))
		}
	})

	t.Run("ListPagesAndDelete", func(t *testing.T) {
		var want []string
		for i := range 230 {
			key := fmt.Sprintf("many/%03d", i)
			want = append(want, key)
			if _, err := st.Put(ctx, bucket, key, bytes.NewReader([]byte(key)), int64(len(key)), storage.PutOptions{}); err != nil {
				t.Fatalf("Put %s: %v", key, err)
			}
		}
		got := list(ctx, t, st, bucket, "many/")
		if !slices.Equal(got, want) {
			t.Fatalf("List many/ = %d keys (%v...), want %d in order", len(got), got[:min(3, len(got))], len(want))
		}
		// Deleting keys that do not exist is not an error.
		if err := st.DeleteObjects(ctx, bucket, append(want[:200:200], "many/none", "nothing")); err != nil {
			t.Fatalf("DeleteObjects: %v", err)
		}
		if got := list(ctx, t, st, bucket, "many/"); !slices.Equal(got, want[200:]) {
			t.Errorf("List after DeleteObjects = %v, want %v", got, want[200:])
		}
	})

	t.Run("DeleteBucket", func(t *testing.T) {
		err := st.DeleteBucket(ctx, bucket, false)
		wantKind(t, err, storage.ErrBucketNotEmpty)
		if err := st.DeleteBucket(ctx, bucket, true); err != nil {
			t.Fatalf("DeleteBucket(force): %v", err)
		}
		if ok, err := st.BucketExists(ctx, bucket); err != nil || ok {
			t.Fatalf("BucketExists after DeleteBucket = %v, %v; want false, nil", ok, err)
		}
	})
}

func wantKind(t *testing.T, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error %v; want one that is %q", err, kind)
	}
	if kind != storage.ErrInvalidName {
		var se *storage.Error
		if !errors.As(err, &se) {
			t.Fatalf("error %v (%T) is no *storage.Error", err, err)
		}
	}
}

func get(ctx context.Context, t *testing.T, st storage.Store, bucket, key string) []byte {
	t.Helper()
	rc, _, err := st.Get(ctx, bucket, key)
	if err != nil {
		t.Fatalf("Get %q: %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get %q: read: %v", key, err)
	}
	return data
}

func list(ctx context.Context, t *testing.T, st storage.Store, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	if err := st.List(ctx, bucket, prefix, func(o storage.Object) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		t.Fatalf("List %q: %v", prefix, err)
	}
	return keys
}

func md5hex(data []byte) string {
	s := md5.Sum(data)
	return hex.EncodeToString(s[:])
}
