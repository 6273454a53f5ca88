package stix_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/store"
	"github.com/stix-run/stix/internal/testutil"
	"github.com/stix-run/stix/internal/testutil/pgtest"
)

// pgStix runs the stix binary over a home whose state lives where env says.
type pgStix struct {
	t   *testing.T
	env []string
	dir string
}

func (p *pgStix) run(args ...string) (stdout, stderr string, code int) {
	p.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "stix"), args...)
	cmd.Env, cmd.Dir = p.env, p.dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		p.t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func (p *pgStix) ok(args ...string) string {
	p.t.Helper()
	out, errOut, code := p.run(args...)
	if code != 0 {
		p.t.Fatalf("stix %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func newPGStix(t *testing.T, extraEnv ...string) *pgStix {
	work := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + work, "STIX_HOME=" + filepath.Join(work, ".stix"),
		"STIX_AGENT_BIN=" + filepath.Join(binDir, "stix-agent"), "NO_COLOR=1", "TMPDIR=" + os.TempDir(),
		"STIX_CATALOG_DIR=" + testutil.SharedDir(t, "catalogs/v7"), "STIX_CATALOG_URL=http://127.0.0.1:1/catalogs"}
	p := &pgStix{t: t, env: append(env, extraEnv...), dir: work}
	return p
}

// TestPostgresLaunchStatusDown runs a cluster's life with STIX_DB_CONNECTION_URI naming a real PostgreSQL
// database: the state is there (and no SQLite file is made), and status and down read it back.
func TestPostgresLaunchStatusDown(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	uri := srv.NewDatabase(t)
	p := newPGStix(t, store.EnvDB+"="+uri)
	t.Cleanup(func() { p.run("down", "-a", "-y", "--purge") })

	out := p.ok("launch", "-y", "-c", "pgc", "echo hello from postgres")
	if !strings.Contains(out, "hello from postgres") {
		t.Fatalf("launch output lacks the job's output:\n%s", out)
	}
	if out := p.ok("status"); !strings.Contains(out, "pgc\tLocal\t") || !strings.Contains(out, "\tUP\t") {
		t.Fatalf("status:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(p.dir, ".stix", store.StateFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a SQLite state file was made (%v); the state belongs in PostgreSQL", err)
	}
	// The cluster is a row of the PostgreSQL database: another store on it sees it.
	ctx := context.Background()
	st, err := store.OpenAt(ctx, store.Location{DB: uri, DBOrigin: "the test"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if c, err := st.GetCluster(ctx, "pgc"); err != nil || c.Status != store.StatusUp {
		t.Fatalf("the cluster in PostgreSQL: %+v, %v", c, err)
	}

	p.ok("down", "-y", "pgc")
	if out := p.ok("status"); !strings.Contains(out, "No existing clusters.") {
		t.Fatalf("status after down:\n%s", out)
	}
	if out := p.ok("cost-report"); !strings.Contains(out, "pgc\t") || !strings.Contains(out, "TERMINATED") {
		t.Fatalf("cost-report after down:\n%s", out)
	}
}

// TestBadDatabaseURI: a bad URI, in the environment or as db: in the config, fails the command with an error
// saying where it was set; nothing is created.
func TestBadDatabaseURI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		env       []string
		config    string
		wantWhere string
	}{
		{"env", []string{store.EnvDB + "=mysql://u:s3cret@db.example/stix"}, "", store.EnvDB},
		{"skypilot env", []string{store.EnvDBSkyPilot + "=mysql://u:s3cret@db.example/stix"}, "", store.EnvDBSkyPilot},
		{"config", nil, "allowed_clouds: [local]\ndb: mysql://u:s3cret@db.example/stix\n", "config.yaml:2:1"},
		// db: in the config wins over the environment, as in SkyPilot.
		{"config over env", []string{store.EnvDB + "=postgresql://127.0.0.1:1/x"}, "db: mysql://u:s3cret@db.example/stix\n", "config.yaml:1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPGStix(t, tt.env...)
			if tt.config != "" {
				if err := os.MkdirAll(filepath.Join(p.dir, ".stix"), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(p.dir, ".stix", "config.yaml"), []byte(tt.config), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			out, errOut, code := p.run("status")
			if code == 0 {
				t.Fatalf("status succeeded:\n%s", out)
			}
			if !strings.Contains(errOut, `unsupported database URI scheme "mysql"`) || !strings.Contains(errOut, tt.wantWhere) {
				t.Errorf("stderr should say what is wrong and where (%s):\n%s", tt.wantWhere, errOut)
			}
			if strings.Contains(errOut, "s3cret") {
				t.Errorf("stderr repeats the password:\n%s", errOut)
			}
			if _, err := os.Stat(filepath.Join(p.dir, ".stix", store.StateFile)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a state file was made (%v)", err)
			}
		})
	}
}
