package gcs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/storage"
	"github.com/stix-run/stix/internal/storage/storetest"
	"github.com/stix-run/stix/internal/testutil/fakegce"
	"github.com/stix-run/stix/internal/testutil/storagetest"
)

// newEmulated returns a client of a fresh fake-gcs-server, found through STORAGE_EMULATOR_HOST as Google's
// libraries find it, with small chunks and pages.
func newEmulated(t *testing.T) *Client {
	t.Helper()
	srv := storagetest.FakeGCS(t)
	env := credcheck.Env{Getenv: func(k string) string {
		if k == EmulatorHostEnv {
			return srv.Host
		}
		return ""
	}}
	cfg, err := FromEnv(&env, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Tokens != nil || cfg.Endpoint != "http://"+srv.Host {
		t.Fatalf("FromEnv with %s=%s: endpoint %q, tokens %v; want the emulator and no tokens", EmulatorHostEnv, srv.Host,
			cfg.Endpoint, cfg.Tokens)
	}
	cfg.ChunkSize, cfg.ResumableThreshold, cfg.PageSize = 5<<20, 8<<20, 100
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStoreBehaviour(t *testing.T) {
	t.Parallel()
	storetest.Run(t, newEmulated(t), "stix-gcs")
}

// TestTokens: without an emulator, requests carry tokens from Application Default Credentials (a service-account
// key here, granted by the fake Compute Engine's token endpoint); a key the endpoint refuses is ErrAuth before
// any storage request, and no credentials at all is ErrAuth saying what to do.
func TestTokens(t *testing.T) {
	t.Parallel()
	srv := storagetest.FakeGCS(t)
	gce := fakegce.New(t)
	dir := t.TempDir()
	good := gce.ServiceAccountKey(t, dir, "good@stix-test.iam.gserviceaccount.com")
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(strings.Replace(string(data), "good@", "unknown@", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	client := func(key string) (*Client, error) {
		env := credcheck.Env{Home: dir, Getenv: func(k string) string {
			return map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": key}[k]
		}}.WithDefaults()
		cfg, err := FromEnv(&env, nil)
		if err != nil {
			return nil, err
		}
		if cfg.Tokens == nil || cfg.Project != fakegce.Project {
			t.Fatalf("FromEnv with a key: tokens %v, project %q", cfg.Tokens, cfg.Project)
		}
		cfg.Endpoint = srv.URL
		return New(cfg)
	}
	c, err := client(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateBucket(ctx, "with-token"); err != nil {
		t.Fatalf("CreateBucket with a granted token: %v", err)
	}

	c, err = client(bad)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.BucketExists(ctx, "with-token")
	if !errors.Is(err, storage.ErrAuth) || !strings.Contains(err.Error(), "refused the credentials") {
		t.Errorf("BucketExists with a refused key: %v; want ErrAuth", err)
	}

	_, err = client("")
	if !errors.Is(err, storage.ErrAuth) || !strings.Contains(err.Error(), "gcloud auth application-default login") {
		t.Errorf("FromEnv with no credentials: %v; want ErrAuth saying what to run", err)
	}
}
