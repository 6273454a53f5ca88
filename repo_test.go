package stix_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestNoBuildOutputsTracked keeps compiled programs out of the repository: a binary built at the root by
// `go build ./bench/seed` (or ./cmd/...) once got committed. Build outputs go to bin/ (ignored) or a temp dir.
func TestNoBuildOutputsTracked(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("git", "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v (this test needs a git checkout of the repository)", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		f, err := os.Open(name)
		if err != nil {
			continue // tracked but deleted in the work tree
		}
		head := make([]byte, 4)
		n, _ := f.Read(head)
		f.Close()
		if bytes.Equal(head[:n], []byte("\x7fELF")) {
			t.Errorf("%s is a compiled program; remove it (git rm --cached %s) and build into bin/", name, name)
		}
	}
}

// TestBuildOutputsIgnored checks that the programs `go build` writes at the root are ignored by git.
func TestBuildOutputsIgnored(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"seed", "stix", "stix-agent", "bin/stix"} {
		if err := exec.Command("git", "check-ignore", "-q", name).Run(); err != nil {
			t.Errorf("%s is not ignored by .gitignore: a stray `go build` would show up as a new file", name)
		}
	}
}

// TestTestDepsNamesWhatItCannotInstall runs scripts/test-deps.sh (what `make test` and .ci/run call first) as a
// user who cannot install packages, on a machine with none of the test dependencies: it must exit 1 and name
// each one with how to get it.
func TestTestDepsNamesWhatItCannotInstall(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command("scripts/test-deps.sh")
	cmd.Env = append(os.Environ(), "TEST_DEPS_UID=1000", "TEST_DEPS_SSHD="+dir+"/sshd",
		"TEST_DEPS_BUSYBOX="+dir+"/busybox", "TEST_DEPS_SHARED="+dir+"/shared", "TEST_DEPS_PG_BINS="+dir+"/postgresql/*/bin", "TEST_DEPS_PYTHON3="+dir+"/python3",
		"TEST_DEPS_CHROMIUM="+dir+"/chromium", "TEST_DEPS_RCLONE="+dir+"/rclone", "TEST_DEPS_FUSERMOUNT="+dir+"/fusermount3",
		"STIX_REQUIRE_CHROMIUM=1", "STIX_REQUIRE_DOCKER=", "STIX_REQUIRE_K8S=",
		"STIX_REQUIRE_STORAGE=1", "TEST_DEPS_STORAGE_SERVERS=false")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1; output:\n%s", err, out)
	}
	for _, want := range []string{
		"package openssh-server: not installed", "sudo apt-get install -y openssh-server",
		"package busybox-static: not installed", "sudo apt-get install -y busybox-static",
		"package postgresql: not installed", "sudo apt-get install -y postgresql",
		"package python3: not installed", "sudo apt-get install -y python3",
		"package chromium: not installed", "sudo apt-get install -y chromium",
		"package rclone: not installed", "sudo apt-get install -y rclone",
		"package fuse3: not installed", "sudo apt-get install -y fuse3",
		dir + "/shared: the shared test data",
		"storage test servers: scripts/storage-servers.sh failed",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
