package gcs

import (
	"testing"

	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/storage/storetest"
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
