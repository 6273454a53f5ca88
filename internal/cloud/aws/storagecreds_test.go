package aws

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/storage"
	"github.com/stix-run/stix/internal/storage/s3"
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
		S3Credentials: StorageCredentials(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateBucket(ctx, "sdk-signed"); err != nil {
		t.Fatalf("CreateBucket with the SDK's credentials: %v", err)
	}

	t.Setenv("AWS_PROFILE", "nope")
	_, err = StorageCredentials(nil).Retrieve(ctx)
	if !errors.Is(err, storage.ErrAuth) {
		t.Errorf("an unknown profile: %v; want ErrAuth", err)
	}
}

// TestStorageCredentialChain: stores.Open with S3CredentialChain reaches MinIO with a profile whose keys only
// the AWS SDK can get (credential_process, in a config file of a temporary AWS directory), and without the
// SDK's chain the same profile is refused with stix's own reason. Stix's own reading of static keys comes
// first: the SDK is not asked when the environment has them. IMDS is off (AWS_EC2_METADATA_DISABLED), so
// nothing leaves this machine. Not parallel: the SDK reads the process's environment.
func TestStorageCredentialChain(t *testing.T) {
	srv := storagetest.MinIO(t)
	dir := t.TempDir()
	proc := filepath.Join(dir, "creds.sh")
	script := "#!/bin/sh\nprintf '{\"Version\": 1, \"AccessKeyId\": \"%s\", \"SecretAccessKey\": \"%s\"}' " + srv.AccessKey + " " + srv.SecretKey + "\n"
	if err := os.WriteFile(proc, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	config := "[profile proc]\ncredential_process = " + proc + "\nregion = us-east-1\n"
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"), "AWS_CONFIG_FILE": filepath.Join(dir, "config"),
		"AWS_PROFILE": "proc", "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL_S3": srv.URL} {
		t.Setenv(k, v)
	}
	ctx := context.Background()
	env := credcheck.Env{Home: dir, Getenv: os.Getenv}
	open := func(chain func(*credcheck.Env) s3.CredentialsProvider) storage.Store {
		t.Helper()
		st, err := stores.Open(storage.S3, stores.Options{Env: &env, S3CredentialChain: chain})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if err := open(nil).CreateBucket(ctx, "no-chain"); !errors.Is(err, storage.ErrAuth) ||
		!strings.Contains(err.Error(), `profile "proc"`) {
		t.Fatalf("without the SDK's chain: %v; want ErrAuth naming the profile", err)
	}
	if err := open(StorageCredentials).CreateBucket(ctx, "by-credential-process"); err != nil {
		t.Fatalf("CreateBucket with credential_process through the SDK's chain: %v", err)
	}

	// A profile the SDK cannot resolve either: both reasons, as ErrAuth.
	t.Setenv("AWS_PROFILE", "nope")
	err := open(StorageCredentials).CreateBucket(ctx, "nope")
	if !errors.Is(err, storage.ErrAuth) || !strings.Contains(err.Error(), `AWS_PROFILE selects profile "nope"`) ||
		!strings.Contains(err.Error(), "the AWS SDK") {
		t.Errorf("an unknown profile: %v; want ErrAuth with stix's reason and the SDK's", err)
	}

	// Static keys in the environment: stix's own reading, the chain is never asked.
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	asked := false
	st := open(func(*credcheck.Env) s3.CredentialsProvider { asked = true; return nil })
	if err := st.CreateBucket(ctx, "static-keys"); err != nil || asked {
		t.Errorf("static keys: %v, chain asked %v; want success without the chain", err, asked)
	}
}
