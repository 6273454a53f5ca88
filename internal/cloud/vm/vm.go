// Package vm is what every provider whose instances are SSH hosts shares (AWS, GCP, Lambda, RunPod): the files
// stix keeps per cluster (state and known_hosts under Home/<cloud>/clusters), its SSH key for the cloud, polling
// with backoff, dialing a new instance until its sshd answers, bringing a cluster up (upload and start the agent
// on every node over SSH: the head's on loopback, the workers' on their private addresses, TLS with the
// cluster's CA), the ClusterInfo built from the state, and the Transport to a node.
//
// It makes no cloud API call: a provider launches, lists and ends its instances through its own API, then hands
// vm the hosts it got (Host) to bring up.
//
// The API, in the order a provider uses it:
//
//	m := &vm.Machines{Cloud: "gcp", Root: home+"/gcp", User: "gcpuser"}    // one per provider
//	m.CheckName(name)                        // a cluster name that can name files and cloud resources
//	vm.Provision(ctx, m, req, nodes, again, launch)  // name and offer checks, bring up a known cluster or launch
//	m.ReadState(name, &st) / m.WriteState(name, &st) / m.Forget(name)     // Home/<cloud>/clusters/NAME.json
//	st, err := vm.Load[state](m, name)       // the state, nil when stix keeps none (vm.Known: a NotFoundError)
//	pub, err := m.Prepare()                  // agent binary found, Home/<cloud>/ssh/stix-key made: before launching
//	ports, err := m.ParsePorts(r.Ports)      // resources.ports as TCP ranges
//	c, err := vm.NewCluster(name, secret)    // the per-cluster agent secret and CA, to embed in the state
//	err = m.Poll(ctx, "instances x are not running", check)   // backoff up to PollInterval, WaitTimeout deadline
//	nodes, err := m.Deploy(ctx, place, name, hosts, &c, report)  // agents on every host (m.Finish: and state, info)
//	info, err := m.Info(name, region, zone, &c, handle)       // ClusterInfo; handle must have a "cluster" field
//	tr, err := m.Transport(ctx, info, rank)  // SSH to a node, on its public address
package vm

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/agent/agenttls"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/nodeagent"
	"github.com/stix-run/stix/internal/lazyregexp"
)

// Machines is one provider's share of this package: where it keeps its files, how it logs in, how it waits.
// Set its fields before first use; it is safe for concurrent use after.
type Machines struct {
	// Cloud is the provider's name, for messages, errors and ClusterInfo.Cloud.
	Cloud string
	// Root is the provider's directory, Home/<cloud>: clusters/ and ssh/ are kept under it.
	Root string
	// User is the instances' SSH login user.
	User string
	// PollInterval is the longest wait between two polls; 2 s when zero.
	PollInterval time.Duration
	// WaitTimeout bounds each wait (instances reaching a state, an sshd answering); 10 minutes when zero.
	WaitTimeout time.Duration
	// AgentBinary finds the stix-agent executable that Deploy uploads; nodeagent.Binary when nil.
	AgentBinary func() (string, error)
}

func (m *Machines) pollInterval() time.Duration {
	if m.PollInterval <= 0 {
		return 2 * time.Second
	}
	return m.PollInterval
}

func (m *Machines) waitTimeout() time.Duration {
	if m.WaitTimeout <= 0 {
		return 10 * time.Minute
	}
	return m.WaitTimeout
}

// namePattern is what a cluster name may be: it names cloud resources, labels and local files.
var namePattern = lazyregexp.New(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// ValidName says whether name can name a cluster's files and cloud resources.
func ValidName(name string) bool { return namePattern.MatchString(name) }

// LowerName maps name to what every cloud takes in its resource names: lower-case letters, digits and '-', and
// the characters in keep; an upper-case letter becomes lower-case, anything else '-'.
func LowerName(name, keep string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', strings.ContainsRune(keep, r):
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return '-'
	}, name)
}

// CheckName refuses a cluster name that cannot name files and cloud resources.
func (m *Machines) CheckName(name string) error {
	if !ValidName(name) {
		return fmt.Errorf("%s cluster name %q: use up to 63 letters, digits, '.', '_' and '-', starting with a letter or digit", m.Cloud, name)
	}
	return nil
}

// Cluster is the part of a cluster's state every VM provider keeps: the agents' secret and CA, and the nodes
// as the agents last reported them. Embed it in the provider's state struct (its JSON fields flatten into it).
type Cluster struct {
	Secret string `json:"secret"`
	CACert string `json:"ca_cert"`
	CAKey  string `json:"ca_key"`
	// Nodes are what the agents reported when they last started, in rank order.
	Nodes []cloud.NodeInfo `json:"nodes,omitempty"`
}

// NewCluster makes a cluster's agent secret (secret when given: the request's) and its CA.
func NewCluster(name, secret string) (Cluster, error) {
	var c Cluster
	if c.Secret = secret; c.Secret == "" {
		var err error
		if c.Secret, err = nodeagent.NewSecret(); err != nil {
			return c, err
		}
	}
	ca, err := agenttls.NewCA(name)
	if err != nil {
		return c, err
	}
	c.CACert, c.CAKey = string(ca.CertPEM), string(ca.KeyPEM)
	return c, nil
}

// StatePath is the file holding the cluster's state.
func (m *Machines) StatePath(name string) string {
	return filepath.Join(m.Root, "clusters", name+".json")
}

// KnownHosts is the cluster's known_hosts file: host keys are trusted on first use and pinned after.
func (m *Machines) KnownHosts(name string) string {
	return filepath.Join(m.Root, "clusters", name+".known_hosts")
}

// ReadState reads the cluster's state into v; found is false (and v untouched) when stix has none.
func (m *Machines) ReadState(name string, v any) (found bool, err error) {
	data, err := os.ReadFile(m.StatePath(name))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("%s cluster %s: state %s: %w", m.Cloud, name, m.StatePath(name), err)
	}
	return true, nil
}

// WriteState replaces the cluster's state with v, atomically.
func (m *Machines) WriteState(name string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	path := m.StatePath(name)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Forget deletes the cluster's state and known_hosts; a cluster stix has no record of is fine.
func (m *Machines) Forget(name string) error {
	err := os.Remove(m.StatePath(name))
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	_ = os.Remove(m.KnownHosts(name))
	return err
}

// PortRange is one of resources.ports: a TCP port or an inclusive range.
type PortRange struct{ From, To int }

// String is "8080" or "10000-10010".
func (r PortRange) String() string {
	if r.From == r.To {
		return strconv.Itoa(r.From)
	}
	return fmt.Sprintf("%d-%d", r.From, r.To)
}

// ParsePorts reads resources.ports ("8080", "10000-10010"), refusing what is not a TCP port with a
// *cloud.InvalidConfigError.
func (m *Machines) ParsePorts(ports []string) ([]PortRange, error) {
	var out []PortRange
	for _, s := range ports {
		a, b, isRange := strings.Cut(strings.TrimSpace(s), "-")
		from, err1 := strconv.Atoi(a)
		to, err2 := from, error(nil)
		if isRange {
			to, err2 = strconv.Atoi(b)
		}
		if err1 != nil || err2 != nil || from < 1 || to > 65535 || from > to {
			return nil, &cloud.InvalidConfigError{Place: cloud.Place{Cloud: m.Cloud}, Reason: fmt.Sprintf(
				"ports: %q is not a port (1-65535) or a range such as 10000-10010", s)}
		}
		out = append(out, PortRange{from, to})
	}
	return out, nil
}

// Info is the cluster's ClusterInfo from its state; handle (marshalled to JSON) must carry the cluster's name
// in a "cluster" field, which Transport reads back.
func (m *Machines) Info(name, region, zone string, c *Cluster, handle any) (*cloud.ClusterInfo, error) {
	h, err := json.Marshal(handle)
	if err != nil {
		return nil, err
	}
	return &cloud.ClusterInfo{Cloud: m.Cloud, Region: region, Zone: zone, Nodes: c.Nodes, Secret: c.Secret,
		CACert: c.CACert, Handle: h}, nil
}

// First returns a unless it is empty, else b.
func First(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
