// Package testutil holds what tests across stix share. It is imported by tests only.
package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// SharedDir returns ../shared/<rel> beside the module root (found by walking up from the test's directory to
// go.mod): the project's read-only test data, such as the SkyPilot YAML corpus (compat/skypilot-yamls) and the
// catalog snapshot (catalogs/v7), read in place and never copied. It fails the test with a clear message when
// the directory is absent, rather than skipping a gap.
func SharedDir(t testing.TB, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the test's directory; cannot locate ../shared/%s", rel)
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", filepath.FromSlash(rel))
	if st, err := os.Stat(p); err != nil || !st.IsDir() {
		t.Fatalf("this test reads shared test data that is not part of the repository, and %s is missing: "+
			"put the shared data (SkyPilot's YAML corpus in compat/, the catalog snapshot in catalogs/), or a symlink "+
			"to it, at ../shared beside your clone (CI provides it; scripts/test-deps.sh checks it)", p)
	}
	return p
}
