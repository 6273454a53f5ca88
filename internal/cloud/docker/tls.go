package docker

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/stix-run/stix/internal/agent/agenttls"
	"github.com/stix-run/stix/internal/atomicfile"
)

// caDir keeps a cluster's CA on this machine: $STIX_HOME/docker/clusters/<name> (0700). Its key never enters a
// container; the containers get the CA certificate and their own certificates (nodeagent.Deploy).
func (p *Provider) caDir(cluster string) string {
	return filepath.Join(p.opts.Home, "docker", "clusters", cluster)
}

// clusterCA loads the cluster's CA, making it on first use: the agents talk TLS over the Docker network. Only
// a cluster with neither file gets a new CA: one that cannot be read, or half of one, is an error, as a new CA
// would lock the client out of the agents running with the old one.
func (p *Provider) clusterCA(cluster string) (*agenttls.CA, error) {
	dir := p.caDir(cluster)
	certFile, keyFile := filepath.Join(dir, agenttls.CAFile), filepath.Join(dir, "ca.key")
	cert, cerr := os.ReadFile(certFile)
	key, kerr := os.ReadFile(keyFile)
	switch certGone, keyGone := errors.Is(cerr, fs.ErrNotExist), errors.Is(kerr, fs.ErrNotExist); {
	case cerr == nil && kerr == nil:
		ca, err := agenttls.ParseCA(cert, key)
		if err != nil {
			return nil, fmt.Errorf("docker cluster %s: %w (remove %s to make a new CA)", cluster, err, dir)
		}
		return ca, nil
	case cerr != nil && !certGone:
		return nil, fmt.Errorf("docker cluster %s: read its CA: %w", cluster, cerr)
	case kerr != nil && !keyGone:
		return nil, fmt.Errorf("docker cluster %s: read its CA: %w", cluster, kerr)
	case certGone != keyGone:
		missing := certFile
		if keyGone {
			missing = keyFile
		}
		return nil, fmt.Errorf("docker cluster %s: %s is missing from its CA: remove %s to make a new CA (then stix down the cluster: its agents trust the old one)", cluster, missing, dir)
	}
	ca, err := agenttls.NewCA(cluster)
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
