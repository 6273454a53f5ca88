package agenttls

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/stix-run/stix/internal/atomicfile"
)

// LoadOrCreateCA loads the CA a provider keeps for a cluster in dir (CAFile and ca.key), making one named name on
// first use. Only a directory with neither file gets a new CA: one that cannot be read, or half of one, is an
// error, as a new CA would lock the client out of the agents running with the old one.
func LoadOrCreateCA(dir, name string) (*CA, error) {
	certFile, keyFile := filepath.Join(dir, CAFile), filepath.Join(dir, "ca.key")
	cert, cerr := os.ReadFile(certFile)
	key, kerr := os.ReadFile(keyFile)
	switch certGone, keyGone := errors.Is(cerr, fs.ErrNotExist), errors.Is(kerr, fs.ErrNotExist); {
	case cerr == nil && kerr == nil:
		ca, err := ParseCA(cert, key)
		if err != nil {
			return nil, fmt.Errorf("%w (remove %s to make a new CA)", err, dir)
		}
		return ca, nil
	case cerr != nil && !certGone:
		return nil, fmt.Errorf("read the CA: %w", cerr)
	case kerr != nil && !keyGone:
		return nil, fmt.Errorf("read the CA: %w", kerr)
	case certGone != keyGone:
		missing := certFile
		if keyGone {
			missing = keyFile
		}
		return nil, fmt.Errorf("%s is missing from the CA: remove %s to make a new CA (then stix down the cluster: its agents trust the old one)", missing, dir)
	}
	ca, err := NewCA(name)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(keyFile, ca.KeyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(certFile, ca.CertPEM, 0o600); err != nil {
		return nil, err
	}
	return ca, nil
}
