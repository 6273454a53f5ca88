package docker

import (
	"errors"
	"fmt"
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

// clusterCA loads the cluster's CA, making it on first use: the agents talk TLS over the Docker network.
func (p *Provider) clusterCA(cluster string) (*agenttls.CA, error) {
	dir := p.caDir(cluster)
	certFile, keyFile := filepath.Join(dir, agenttls.CAFile), filepath.Join(dir, "ca.key")
	cert, cerr := os.ReadFile(certFile)
	key, kerr := os.ReadFile(keyFile)
	if cerr == nil && kerr == nil {
		ca, err := agenttls.ParseCA(cert, key)
		if err != nil {
			return nil, fmt.Errorf("docker cluster %s: %w (remove %s to make a new CA)", cluster, err, dir)
		}
		return ca, nil
	}
	if !errors.Is(cerr, os.ErrNotExist) && cerr != nil {
		return nil, cerr
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
