package vm

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/stix-run/stix/internal/agent/agenttls"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/nodeagent"
	"github.com/stix-run/stix/internal/config"
	"github.com/stix-run/stix/internal/transport"
	sshtransport "github.com/stix-run/stix/internal/transport/ssh"
)

// UserHash names this user of this machine in what stix makes on a cloud (as SkyPilot's user hash): several
// users share an account, and their clusters may share a name.
func UserHash() string {
	who := "stix"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	host, _ := os.Hostname()
	sum := sha256.Sum256([]byte(who + "@" + host))
	return hex.EncodeToString(sum[:4])
}

// LocalKey returns stix's SSH key for the cloud (an ed25519 key made on first use, at Root/ssh/stix-key) and its
// public half in authorized_keys form.
func (m *Machines) LocalKey() (keyPath string, pub []byte, err error) {
	keyPath = filepath.Join(m.Root, "ssh", "stix-key")
	if data, err := os.ReadFile(keyPath); err == nil {
		signer, err := ssh.ParsePrivateKey(data)
		if err != nil {
			return "", nil, fmt.Errorf("stix's %s SSH key %s: %w (remove it to have a new one made)", m.Cloud, keyPath, err)
		}
		return keyPath, bytes.TrimSpace(ssh.MarshalAuthorizedKey(signer.PublicKey())), nil
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "stix")
	if err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(filepath.Dir(keyPath), 0o700); err != nil {
		return "", nil, err
	}
	// Written aside and renamed, so that a concurrent LocalKey (RunPod dials its pods at once) reads a whole key.
	tmp, err := os.CreateTemp(filepath.Dir(keyPath), ".stix-key-*")
	if err != nil {
		return "", nil, err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(pem.EncodeToMemory(block))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), keyPath)
	}
	if err != nil {
		return "", nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return "", nil, err
	}
	return keyPath, bytes.TrimSpace(ssh.MarshalAuthorizedKey(signer.PublicKey())), nil
}

// Prepare finds what Deploy needs, the agent binary and stix's SSH key (made on first use), and returns the key's
// public half for the instances' authorized_keys. A launch (or start) calls it before it makes (or starts)
// anything, so that a missing agent binary fails first.
func (m *Machines) Prepare() (pub []byte, err error) {
	if _, err := m.agentBinary(); err != nil {
		return nil, err
	}
	_, pub, err = m.LocalKey()
	return pub, err
}

func (m *Machines) agentBinary() (string, error) {
	if m.AgentBinary == nil {
		return nodeagent.Binary()
	}
	return m.AgentBinary()
}

// Backoff returns the waits between polls: from 100 ms, doubling up to PollInterval, so that a state reached
// quickly is seen quickly and a long boot is not polled more than every PollInterval.
func (m *Machines) Backoff() func() time.Duration {
	limit := m.pollInterval()
	d := min(100*time.Millisecond, limit)
	return func() time.Duration {
		cur := d
		d = min(2*d, limit)
		return cur
	}
}

// Poll calls check, with Backoff's waits, until it reports done or fails, for at most WaitTimeout. On the
// deadline (or ctx's end) it fails with "<notYet> after <WaitTimeout>": notYet says what was not reached
// ("instances i-1, i-2 are not running").
func (m *Machines) Poll(ctx context.Context, notYet string, check func(ctx context.Context) (done bool, err error)) error {
	ctx, cancel := context.WithTimeout(ctx, m.waitTimeout())
	defer cancel()
	next := m.Backoff()
	for {
		done, err := check(ctx)
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s after %s", notYet, m.waitTimeout())
		case <-time.After(next()):
		}
	}
}

// Dial opens an SSH connection to a node of the cluster (host, or host:port) with stix's key, pinning host keys in the cluster's
// known_hosts, with the request's provision.ssh_timeout.
func (m *Machines) Dial(ctx context.Context, cluster, host string) (*sshtransport.Transport, error) {
	keyPath, _, err := m.LocalKey()
	if err != nil {
		return nil, err
	}
	return m.dial(ctx, cluster, host, keyPath)
}

func (m *Machines) dial(ctx context.Context, cluster, host, keyPath string) (*sshtransport.Transport, error) {
	port := 0 // host may be host:port where the cloud maps sshd to another port (RunPod)
	if h, p, err := net.SplitHostPort(host); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			host, port = h, n
		}
	}
	return sshtransport.Dial(ctx, sshtransport.Config{Host: host, Port: port, User: m.User, IdentityFiles: []string{keyPath},
		KnownHostsFile: m.KnownHosts(cluster),
		// The request's provision.ssh_timeout; the transport's default when unset.
		ConnectTimeout: config.FromContext(ctx).ProvisionSSHTimeout()})
}

// DialWait connects to a new instance over SSH, trying again while its sshd does not answer yet, for at most
// WaitTimeout. An sshd that answers but refuses stix is a *cloud.InvalidConfigError (wrong image or user).
func (m *Machines) DialWait(ctx context.Context, place cloud.Place, cluster, host string) (*sshtransport.Transport, error) {
	keyPath, _, err := m.LocalKey()
	if err != nil {
		return nil, err
	}
	return m.dialWait(ctx, place, cluster, host, keyPath)
}

func (m *Machines) dialWait(ctx context.Context, place cloud.Place, cluster, host, keyPath string) (*sshtransport.Transport, error) {
	ctx, cancel := context.WithTimeout(ctx, m.waitTimeout())
	defer cancel()
	next := m.Backoff()
	for {
		tr, err := m.dial(ctx, cluster, host, keyPath)
		var unreachable *sshtransport.UnreachableError
		if err == nil || !errors.As(err, &unreachable) {
			if err != nil {
				return nil, &cloud.InvalidConfigError{Place: place, Reason: fmt.Sprintf("SSH to %s@%s", m.User, host), Err: err}
			}
			return tr, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("SSH to %s@%s: %w", m.User, host, err)
		case <-time.After(next()):
		}
	}
}

// Host is a running instance, in rank order, as the provider's API reports it.
type Host struct {
	// ID is the cloud's name for the instance, for messages.
	ID string
	// PrivateIP is its address on the cluster's network; the workers' agents listen there.
	PrivateIP string
	// PublicIP is where stix reaches it; PrivateIP when empty.
	PublicIP string
	// SSHPort is the port of its sshd at PublicIP; 22 when zero. RunPod maps a pod's port 22 to another.
	SSHPort int
}

// Deploy starts the agent on every host over SSH with stix's key (uploading AgentBinary's executable when its
// hash differs): the head's (rank 0) on loopback, reached through the SSH tunnel, the workers' on their private
// addresses, all TLS with the cluster's CA. It returns the nodes as the agents report them; the caller records
// them in c.Nodes and its state.
func (m *Machines) Deploy(ctx context.Context, place cloud.Place, cluster string, hosts []Host, c *Cluster, report func(string)) ([]cloud.NodeInfo, error) {
	bin, err := m.agentBinary()
	if err != nil {
		return nil, err
	}
	keyPath, _, err := m.LocalKey()
	if err != nil {
		return nil, err
	}
	ca, err := agenttls.ParseCA([]byte(c.CACert), []byte(c.CAKey))
	if err != nil {
		return nil, err
	}
	nodes := make([]cloud.NodeInfo, len(hosts))
	err = cloud.EachNode(ctx, len(hosts), func(ctx context.Context, rank int) error {
		h := hosts[rank]
		if report != nil {
			report(fmt.Sprintf("starting agent on node %d (%s)", rank, h.ID))
		}
		addr := First(h.PublicIP, h.PrivateIP)
		if h.SSHPort != 0 {
			addr = net.JoinHostPort(addr, strconv.Itoa(h.SSHPort))
		}
		tr, err := m.dialWait(ctx, place, cluster, addr, keyPath)
		if err != nil {
			return fmt.Errorf("node %d (%s): %w", rank, h.ID, err)
		}
		defer tr.Close()
		listen := net.JoinHostPort(h.PrivateIP, "0")
		if rank == 0 {
			listen = "127.0.0.1:0"
		}
		dir := "~/.stix/clusters/" + cluster + "/agent"
		addr, hello, err := nodeagent.Deploy(ctx, tr, nodeagent.DeployOptions{Binary: bin, Dir: dir, Listen: listen,
			Secret: c.Secret, Home: "~", CA: ca})
		if err != nil {
			return fmt.Errorf("node %d (%s): %w", rank, h.ID, err)
		}
		nodes[rank] = cloud.NodeInfo{Rank: rank, InternalIP: h.PrivateIP, ExternalIP: h.PublicIP, AgentAddr: addr,
			Home: tr.Home(), AgentDir: path.Join(tr.Home(), strings.TrimPrefix(dir, "~/")), Resources: hello.Resources}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return nodes, nil
}

// Transport opens an SSH connection to the node of the given rank, on its public address. The cluster's name
// comes from the handle's "cluster" field (Info).
func (m *Machines) Transport(ctx context.Context, info *cloud.ClusterInfo, rank int) (transport.Transport, error) {
	if info == nil || rank < 0 || rank >= len(info.Nodes) {
		return nil, fmt.Errorf("%s cluster: no node of rank %d", m.Cloud, rank)
	}
	var h struct {
		Cluster string `json:"cluster"`
	}
	if err := json.Unmarshal(info.Handle, &h); err != nil || !ValidName(h.Cluster) {
		return nil, fmt.Errorf("%s cluster: malformed handle %.100s", m.Cloud, info.Handle)
	}
	n := info.Nodes[rank]
	return m.Dial(ctx, h.Cluster, First(n.ExternalIP, n.InternalIP))
}
