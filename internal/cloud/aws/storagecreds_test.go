package aws

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stix-run/stix/internal/storage"
	"github.com/stix-run/stix/internal/storage/stores"
	"github.com/stix-run/stix/internal/testutil/storagetest"
)

// TestStorageCredentials: the SDK's chain signs stix's S3 client: a profile with access keys in a credentials
// file the SDK finds (AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE) reaches MinIO; an unknown profile is ErrAuth.
// Not parallel: the SDK reads the process's environment.
func TestStorageCredentials(t *testing.T) {
	srv := storagetest.MinIO(t)
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	data := "[minio]\naws_access_key_id = " + srv.AccessKey + "\naws_secret_access_key = " + srv.SecretKey + "\n"
	if err := os.WriteFile(creds, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_PROFILE", "minio")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx := context.Background()
	st, err := stores.Open(storage.S3, stores.Options{Endpoint: storage.Endpoint{URL: srv.URL},
		S3Credentials: StorageCredentials()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateBucket(ctx, "sdk-signed"); err != nil {
		t.Fatalf("CreateBucket with the SDK's credentials: %v", err)
	}

	t.Setenv("AWS_PROFILE", "nope")
	_, err = StorageCredentials().Retrieve(ctx)
	if !errors.Is(err, storage.ErrAuth) {
		t.Errorf("an unknown profile: %v; want ErrAuth", err)
	}
}
