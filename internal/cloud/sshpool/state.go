package sshpool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/stix-run/stix/internal/atomicfile"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/sqlitedb/filelock"
)

// The provider's state, under Root ($STIX_HOME/ssh):
//
//	state.json                  what `ssh up` measured of each pool's hosts, and every cluster on them
//	.lock                       flock held while state.json is read and rewritten (milliseconds)
//	pools/<pool>/known_hosts    host keys seen by `ssh up` / `ssh down`
//	clusters/<name>/known_hosts host keys seen by a cluster's connections
//
// A host is claimed while a cluster lists it; claims are released by Terminate (or a failed Provision).

const stateFile = "state.json"

// state is state.json.
type state struct {
	Pools    map[string]*poolState    `json:"pools,omitempty"`
	Clusters map[string]*clusterState `json:"clusters,omitempty"`
}

// poolState is a pool as `ssh up` left it.
type poolState struct {
	UpAt  time.Time    `json:"up_at"`
	Hosts []hostRecord `json:"hosts"`
}

// hostRecord is one host, resolved from the pools file, with what `ssh up` measured.
type hostRecord struct {
	Host
	Resources cloud.Resources `json:"resources"`
}

// key identifies a host within a pool: the address and port stix dials.
func (h Host) key() string { return fmt.Sprintf("%s@%s:%d", h.User, h.Address, h.Port) }

// clusterState is one cluster: its pool, its hosts in rank order, its secret and what its agents reported.
type clusterState struct {
	Pool   string      `json:"pool"`
	Nodes  []nodeState `json:"nodes"`
	Secret string      `json:"secret"`
	// CACert and CAKey are the cluster's CA (PEM, agenttls): the key never leaves this file (mode 0600).
	CACert    string    `json:"ca_cert,omitempty"`
	CAKey     string    `json:"ca_key,omitempty"`
	Stopped   bool      `json:"stopped,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// nodeState is one node of a cluster.
type nodeState struct {
	Host      Host            `json:"host"`
	Home      string          `json:"home,omitempty"`
	AgentAddr string          `json:"agent_addr,omitempty"`
	Resources cloud.Resources `json:"resources"`
}

// claims maps each claimed host key of pool to the cluster holding it.
func (s *state) claims(pool string) map[string]string {
	out := map[string]string{}
	for name, c := range s.Clusters {
		if c.Pool != pool {
			continue
		}
		for _, n := range c.Nodes {
			out[n.Host.key()] = name
		}
	}
	return out
}

// clustersOn lists, sorted, the clusters that use pool.
func (s *state) clustersOn(pool string) []string {
	var out []string
	for name, c := range s.Clusters {
		if c.Pool == pool {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// readState reads state.json; a missing file is an empty state. It needs no lock: the file is replaced
// atomically.
func (p *Provider) readState() (*state, error) {
	s := &state{}
	b, err := os.ReadFile(filepath.Join(p.root, stateFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("ssh node pools: read state: %w", err)
	default:
		if err := json.Unmarshal(b, s); err != nil {
			return nil, fmt.Errorf("ssh node pools: malformed %s: %w (delete it and run `stix ssh up` again)", filepath.Join(p.root, stateFile), err)
		}
	}
	if s.Pools == nil {
		s.Pools = map[string]*poolState{}
	}
	if s.Clusters == nil {
		s.Clusters = map[string]*clusterState{}
	}
	return s, nil
}

// update runs fn on the state under the lock and writes the state back when fn succeeds.
func (p *Provider) update(ctx context.Context, fn func(*state) error) error {
	if err := os.MkdirAll(p.root, 0o700); err != nil {
		return fmt.Errorf("ssh node pools: %w", err)
	}
	unlock, err := filelock.Lock(ctx, filepath.Join(p.root, ".lock"))
	if err != nil {
		return fmt.Errorf("ssh node pools: %w", err)
	}
	defer unlock()
	s, err := p.readState()
	if err != nil {
		return err
	}
	if err := fn(s); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(p.root, stateFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("ssh node pools: write state: %w", err)
	}
	return nil
}

// poolKnownHosts and clusterKnownHosts are the known_hosts files of `ssh up`/`ssh down` and of a cluster.
func (p *Provider) poolKnownHosts(pool string) string {
	return filepath.Join(p.root, "pools", pool, "known_hosts")
}

func (p *Provider) clusterKnownHosts(cluster string) string {
	return filepath.Join(p.root, "clusters", cluster, "known_hosts")
}
