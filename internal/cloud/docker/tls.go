package docker

import (
	"fmt"
	"path/filepath"

	"github.com/stix-run/stix/internal/agent/agenttls"
)

// caDir keeps a cluster's CA on this machine: $STIX_HOME/docker/clusters/<name> (0700). Its key never enters a
// container; the containers get the CA certificate and their own certificates (nodeagent.Deploy).
func (p *Provider) caDir(cluster string) string {
	return filepath.Join(p.opts.Home, "docker", "clusters", cluster)
}

// clusterCA loads the cluster's CA, making it on first use (agenttls.LoadOrCreateCA): the agents talk TLS over
// the Docker network.
func (p *Provider) clusterCA(cluster string) (*agenttls.CA, error) {
	ca, err := agenttls.LoadOrCreateCA(p.caDir(cluster), cluster)
	if err != nil {
		return nil, fmt.Errorf("docker cluster %s: %w", cluster, err)
	}
	return ca, nil
}
