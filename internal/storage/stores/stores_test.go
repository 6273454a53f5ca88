package stores

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/storage"
	"github.com/stix-run/stix/internal/testutil/storagetest"
)

func env(home string, vars map[string]string) *credcheck.Env {
	e := credcheck.Env{Home: home, Getenv: func(k string) string { return vars[k] }}.WithDefaults()
	return &e
}

// TestOpen: each kind opens its client from the usual places; an S3-compatible endpoint from AWS_ENDPOINT_URL_S3
// reaches MinIO, and GCS goes to STORAGE_EMULATOR_HOST.
func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	minio := storagetest.MinIO(t)
	s3st, err := Open(storage.S3, Options{Env: env(t.TempDir(), map[string]string{"AWS_ENDPOINT_URL_S3": minio.URL,
		"AWS_ACCESS_KEY_ID": minio.AccessKey, "AWS_SECRET_ACCESS_KEY": minio.SecretKey})})
	if err != nil {
		t.Fatal(err)
	}
	if err := s3st.CreateBucket(ctx, "opened"); err != nil || s3st.Kind() != storage.S3 {
		t.Fatalf("S3 through AWS_ENDPOINT_URL_S3: %v", err)
	}

	fake := storagetest.FakeGCS(t)
	gst, err := Open(storage.GCS, Options{Env: env(t.TempDir(), map[string]string{"STORAGE_EMULATOR_HOST": fake.Host})})
	if err != nil {
		t.Fatal(err)
	}
	if err := gst.CreateBucket(ctx, "opened"); err != nil || gst.Kind() != storage.GCS {
		t.Fatalf("GCS through STORAGE_EMULATOR_HOST: %v", err)
	}

	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".cloudflare"), 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(home, ".cloudflare", "accountid"), []byte("acct"), 0o600)
	os.WriteFile(filepath.Join(home, ".cloudflare", "r2.credentials"), []byte("[r2]\naws_access_key_id=k\naws_secret_access_key=s\n"), 0o600)
	r2, err := Open(storage.R2, Options{Env: env(home, nil)})
	if err != nil || r2.Kind() != storage.R2 {
		t.Fatalf("R2: %v, %v", r2, err)
	}

	_, err = Open(storage.GCS, Options{Env: env(t.TempDir(), nil)})
	if !errors.Is(err, storage.ErrAuth) {
		t.Errorf("GCS with no credentials: %v; want ErrAuth", err)
	}
	if _, err := Open("azure", Options{Env: env(t.TempDir(), nil)}); err == nil {
		t.Error("Open(azure) succeeded")
	}
}
