package storage_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/stix-run/stix/internal/storage"
)

// TestUploadIgnore: with Sync.Ignore, a directory source leaves out what its .skyignore files say (else its
// .gitignore files) and its top-level .git, as SkyPilot's bucket uploads do; a single-file source and an upload
// without Ignore send everything.
func TestUploadIgnore(t *testing.T) {
	t.Parallel()
	st := newMinIO(t)
	ctx := ctxFor(t)
	const bucket = "stix-ignore"
	must(t, st.CreateBucket(ctx, bucket))

	git := t.TempDir() // a tree with .gitignore files only
	write(t, filepath.Join(git, ".gitignore"), "*.log\nbuild/\n!keep.log\n")
	write(t, filepath.Join(git, "main.go"), "package main")
	write(t, filepath.Join(git, "debug.log"), "noise")
	write(t, filepath.Join(git, "keep.log"), "kept")
	write(t, filepath.Join(git, "build/out.bin"), "binary")
	write(t, filepath.Join(git, "sub/.gitignore"), "secret.txt\n")
	write(t, filepath.Join(git, "sub/secret.txt"), "s")
	write(t, filepath.Join(git, "sub/ok.txt"), "ok")
	write(t, filepath.Join(git, ".git/HEAD"), "ref: refs/heads/main")
	write(t, filepath.Join(git, "sub/.git"), "gitdir: elsewhere") // only the top-level .git is left out

	sky := t.TempDir() // .skyignore wins over .gitignore
	write(t, filepath.Join(sky, ".skyignore"), "/data\n")
	write(t, filepath.Join(sky, ".gitignore"), "*.txt\n")
	write(t, filepath.Join(sky, "notes.txt"), "n")
	write(t, filepath.Join(sky, "data/big.bin"), "big")
	write(t, filepath.Join(sky, "sub/data/small.bin"), "small") // "/data" is anchored to the root

	sy := storage.Sync{Ignore: true}
	stats, err := sy.Upload(ctx, st, bucket, "git", git)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"git/.gitignore", "git/keep.log", "git/main.go", "git/sub/.git", "git/sub/.gitignore", "git/sub/ok.txt"}
	if got := keys(t, ctx, st, bucket, "git/"); !slices.Equal(got, want) {
		t.Errorf("keys with .gitignore = %v, want %v", got, want)
	}
	if stats.Files != len(want) || stats.Ignored != 4 {
		t.Errorf("stats = %+v; want %d files, 4 ignored (debug.log, build, sub/secret.txt, .git)", stats, len(want))
	}

	if _, err := sy.Upload(ctx, st, bucket, "sky", sky); err != nil {
		t.Fatal(err)
	}
	want = []string{"sky/.gitignore", "sky/.skyignore", "sky/notes.txt", "sky/sub/data/small.bin"}
	if got := keys(t, ctx, st, bucket, "sky/"); !slices.Equal(got, want) {
		t.Errorf("keys with .skyignore = %v, want %v", got, want)
	}

	// Several sources: each directory by its own ignore files; a file given by name is sent whatever they say.
	if _, err := sy.Upload(ctx, st, bucket, "multi", git, filepath.Join(git, "debug.log")); err != nil {
		t.Fatal(err)
	}
	base := filepath.Base(git)
	want = []string{"multi/debug.log", "multi/" + base + "/.gitignore", "multi/" + base + "/keep.log", "multi/" + base + "/main.go",
		"multi/" + base + "/sub/.git", "multi/" + base + "/sub/.gitignore", "multi/" + base + "/sub/ok.txt"}
	slices.Sort(want)
	if got := keys(t, ctx, st, bucket, "multi/"); !slices.Equal(got, want) {
		t.Errorf("keys of several sources = %v, want %v", got, want)
	}

	// Without Ignore, everything goes.
	if _, err := (storage.Sync{}).Upload(ctx, st, bucket, "all", sky); err != nil {
		t.Fatal(err)
	}
	want = []string{"all/.gitignore", "all/.skyignore", "all/data/big.bin", "all/notes.txt", "all/sub/data/small.bin"}
	if got := keys(t, ctx, st, bucket, "all/"); !slices.Equal(got, want) {
		t.Errorf("keys without Ignore = %v, want %v", got, want)
	}
}
