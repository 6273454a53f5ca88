package cluster

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/transport/local"
)

// gitRepo makes a bare repository with one commit on main holding f.txt, and returns its file:// URL.
func gitRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src, bare := filepath.Join(dir, "src"), filepath.Join(dir, "repo.git")
	for _, args := range [][]string{
		{"init", "-q", "-b", "main", src},
		{"-C", src, "-c", "user.name=stix", "-c", "user.email=stix@example.com", "commit", "-q", "--allow-empty", "-m", "one"},
		{"clone", "-q", "--bare", src, bare},
	} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return "file://" + bare
}

// TestGitCloneRefusals: the clone never overwrites what it did not make, and a GIT_TOKEN never shows in an error.
func TestGitCloneRefusals(t *testing.T) {
	t.Parallel()
	url := gitRepo(t)
	ctx := context.Background()
	home := t.TempDir()
	tr, err := local.New(local.Options{Home: home})
	if err != nil {
		t.Fatal(err)
	}

	// A workdir that holds other files (a synced local workdir) is left alone.
	if err := os.MkdirAll(filepath.Join(home, "sky_workdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "sky_workdir", "mine.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = (&gitSource{url: url}).clone(ctx, tr, remoteWorkdir)
	if err == nil || !strings.Contains(err.Error(), "holds files and is not a git checkout") {
		t.Fatalf("clone over a local workdir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(home, "sky_workdir", "mine.txt")); err != nil {
		t.Errorf("the local workdir's file is gone: %v", err)
	}

	// A clone of another repository is not repointed.
	os.RemoveAll(filepath.Join(home, "sky_workdir"))
	if err := (&gitSource{url: url}).clone(ctx, tr, remoteWorkdir); err != nil {
		t.Fatal(err)
	}
	other := gitRepo(t)
	if err := (&gitSource{url: other}).clone(ctx, tr, remoteWorkdir); err == nil || !strings.Contains(err.Error(), "is a clone of "+url) {
		t.Errorf("clone of another URL: %v", err)
	}

	// The token goes into https URLs for the fetch; a failure's message does not carry it.
	g := &gitSource{url: "https://127.0.0.1:1/org/repo.git", token: "tok-s3cr3t"}
	err = g.clone(ctx, tr, "~/other")
	if err == nil || strings.Contains(err.Error(), "tok-s3cr3t") || !strings.Contains(err.Error(), "exit status") {
		t.Errorf("failed clone with a token: %v", err)
	}
}
