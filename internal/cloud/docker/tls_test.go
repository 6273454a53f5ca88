package docker

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/agent/agenttls"
)

// clusterCA makes a CA only where there is none: a key that is missing or cannot be read next to an existing
// certificate is an error that leaves the certificate alone (a new CA would lock out the running agents).
func TestClusterCAKeepsAnExistingCA(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		breakIt func(keyFile string) error
		want    string
	}{
		{"key missing", os.Remove, "missing"},
		// A symlink to itself cannot be read (ELOOP), even by root.
		{"key unreadable", func(keyFile string) error {
			if err := os.Remove(keyFile); err != nil {
				return err
			}
			return os.Symlink(filepath.Base(keyFile), keyFile)
		}, "ca.key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := New(Options{Home: t.TempDir()})
			if _, err := p.clusterCA("c"); err != nil {
				t.Fatal(err)
			}
			dir := p.caDir("c")
			certFile := filepath.Join(dir, agenttls.CAFile)
			cert, err := os.ReadFile(certFile)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.breakIt(filepath.Join(dir, "ca.key")); err != nil {
				t.Fatal(err)
			}
			if _, err := p.clusterCA("c"); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("clusterCA: %v; want an error saying %q", err, tc.want)
			}
			if now, err := os.ReadFile(certFile); err != nil || !bytes.Equal(now, cert) {
				t.Errorf("the CA certificate changed (%v)", err)
			}
		})
	}
	t.Run("loads what it made", func(t *testing.T) {
		t.Parallel()
		p := New(Options{Home: t.TempDir()})
		first, err := p.clusterCA("c")
		if err != nil {
			t.Fatal(err)
		}
		again, err := p.clusterCA("c")
		if err != nil || !bytes.Equal(first.CertPEM, again.CertPEM) {
			t.Fatalf("second clusterCA: %v, same cert %v", err, err == nil && bytes.Equal(first.CertPEM, again.CertPEM))
		}
	})
}
