package nodeagent

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fileHash answers from its cache for an unchanged file and hashes again a file that changed.
func TestFileHashFollowsTheFile(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "bin")
	check := func(content string) {
		t.Helper()
		sum := sha256.Sum256([]byte(content))
		for range 2 {
			if got, err := fileHash(p); err != nil || got != hex.EncodeToString(sum[:]) {
				t.Fatalf("fileHash of %q = %s, %v", content, got, err)
			}
		}
	}
	if err := os.WriteFile(p, []byte("one"), 0o755); err != nil {
		t.Fatal(err)
	}
	check("one")
	// Same size, another modification time.
	if err := os.WriteFile(p, []byte("two"), 0o755); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	check("two")
	// Another size.
	if err := os.WriteFile(p, []byte("three"), 0o755); err != nil {
		t.Fatal(err)
	}
	check("three")
	if _, err := fileHash(filepath.Join(t.TempDir(), "missing")); !os.IsNotExist(err) {
		t.Errorf("fileHash of a missing file: %v", err)
	}
}
