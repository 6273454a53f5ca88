package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/stix-run/stix/internal/atomicfile"
	"github.com/stix-run/stix/internal/lazyregexp"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/nodeagent"
	"github.com/stix-run/stix/internal/transport"
	localtransport "github.com/stix-run/stix/internal/transport/local"
)

// A cluster is the directory Root/<name>: its record cluster.json and, for each node, node-<rank>/ (the node's
// home: its jobs' $HOME) and agent-<rank>/ (its agent's directory: secret, job table, procs, logs), apart so
// that the agent's files can be hidden from the jobs (stix-agent serve --confine-hide).
const recordFile = "cluster.json"

// record is cluster.json: what the provider knows of a cluster besides what its agents write.
type record struct {
	Name      string       `json:"name"`
	CreatedAt time.Time    `json:"created_at"`
	Nodes     []nodeRecord `json:"nodes"`
	// Stopped is set by Stop and cleared when the agents come up again: an agent that is gone while the cluster
	// is not stopped has crashed or was killed, and its node is not stopped but unhealthy.
	Stopped bool `json:"stopped,omitempty"`
}

type nodeRecord struct {
	Rank int    `json:"rank"`
	IP   string `json:"ip"`
	// Resources are what the node's agent reported when it last started.
	Resources cloud.Resources `json:"resources"`
}

// handle is ClusterInfo.Handle for local clusters.
type handle struct {
	Dir string `json:"dir"`
}

// namePattern is the alphabet of cluster names; the length limit (128) is checked apart, because a {0,127} repeat
// would compile to 127 copies of its class at every stix command's start.
var namePattern = lazyregexp.New(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// clusterDir finds a cluster's directory: the handle's, else Root/<name>.
func (p *Provider) clusterDir(ref cloud.ClusterRef) (string, error) {
	if len(ref.Handle) > 0 {
		var h handle
		if err := json.Unmarshal(ref.Handle, &h); err != nil {
			return "", fmt.Errorf("local cluster %s: malformed handle %.100s: %w", ref.Name, ref.Handle, err)
		}
		if h.Dir != "" {
			if !filepath.IsAbs(h.Dir) {
				return "", fmt.Errorf("local cluster %s: handle directory %q is not absolute", ref.Name, h.Dir)
			}
			return filepath.Clean(h.Dir), nil
		}
	}
	if len(ref.Name) > 128 || !namePattern.MatchString(ref.Name) {
		return "", fmt.Errorf("local cluster name %q: use letters, digits, '.', '_' and '-', starting with a letter or digit", ref.Name)
	}
	return filepath.Join(p.root, ref.Name), nil
}

func nodeDir(clusterDir string, rank int) string {
	return filepath.Join(clusterDir, fmt.Sprintf("node-%d", rank))
}

func agentDir(clusterDir string, rank int) string {
	return filepath.Join(clusterDir, fmt.Sprintf("agent-%d", rank))
}

// readRecord reads a cluster's record; a cluster without one gives a *cloud.NotFoundError.
func readRecord(dir, name string) (*record, error) {
	b, err := os.ReadFile(filepath.Join(dir, recordFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &cloud.NotFoundError{Place: cloud.Place{Cloud: Name}, Cluster: name, Reason: "no cluster at " + dir}
	}
	if err != nil {
		return nil, fmt.Errorf("local cluster %s: %w", name, err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("local cluster %s: malformed %s: %w", name, filepath.Join(dir, recordFile), err)
	}
	return &r, nil
}

func writeRecord(dir string, r *record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, recordFile), append(b, '\n'), 0o600)
}

// records reads every cluster record under the root; unreadable ones are skipped (a cluster being removed).
func (p *Provider) records() ([]*record, error) {
	ents, err := os.ReadDir(p.root)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("list local clusters: %w", err)
	}
	var out []*record
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if r, err := readRecord(filepath.Join(p.root, e.Name()), e.Name()); err == nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// info builds a ClusterInfo.
func (p *Provider) info(dir string, rec *record) (*cloud.ClusterInfo, error) {
	h, err := json.Marshal(handle{Dir: dir})
	if err != nil {
		return nil, err
	}
	secret, _ := os.ReadFile(filepath.Join(agentDir(dir, 0), nodeagent.SecretFile))
	ci := &cloud.ClusterInfo{Cloud: Name, Region: Region, Secret: strings.TrimSpace(string(secret)), Handle: h}
	for _, n := range rec.Nodes {
		home, adir := nodeDir(dir, n.Rank), agentDir(dir, n.Rank)
		addr, _ := os.ReadFile(filepath.Join(adir, nodeagent.AddrFile))
		ci.Nodes = append(ci.Nodes, cloud.NodeInfo{
			Rank:       n.Rank,
			InternalIP: n.IP,
			ExternalIP: n.IP,
			AgentAddr:  strings.TrimSpace(string(addr)),
			Home:       home,
			AgentDir:   adir,
			Resources:  n.Resources,
		})
	}
	return ci, nil
}

// Transport reaches a local node: its home directory on this machine. Syncs never copy the provider's root,
// so a workdir that contains ~/.stix does not copy nodes into nodes.
func (p *Provider) Transport(_ context.Context, info *cloud.ClusterInfo, rank int) (transport.Transport, error) {
	if info == nil || rank < 0 || rank >= len(info.Nodes) {
		return nil, fmt.Errorf("local cluster: no node of rank %d", rank)
	}
	return localtransport.New(localtransport.Options{Home: info.Nodes[rank].Home, Exclude: []string{p.root}})
}
