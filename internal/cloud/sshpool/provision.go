package sshpool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/agent/agenttls"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/nodeagent"
	"github.com/stix-run/stix/internal/lazyregexp"
	"github.com/stix-run/stix/internal/transport"
	sshtransport "github.com/stix-run/stix/internal/transport/ssh"
)

// handle is the cluster's Handle: its pool and its hosts in rank order, enough to reach every node without
// reading the pools file again.
type handle struct {
	Cluster string `json:"cluster"`
	Pool    string `json:"pool"`
	Hosts   []Host `json:"hosts"`
}

// namePattern is what a cluster name may be: it becomes a directory here and on every host.
var namePattern = lazyregexp.New(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// agentDir is the cluster's agent directory on host h. It names the host (address and port): hosts that share
// one home directory (NFS homes on lab machines) must not share an agent's address, pid and job files.
func agentDir(cluster string, h Host) string {
	return "~/.stix/clusters/" + cluster + "/agent-" + h.dirID()
}

// legacyAgentDir is where stix versions before agentDir kept a cluster's agent on every host; stop and down
// still look there.
func legacyAgentDir(cluster string) string { return "~/.stix/clusters/" + cluster + "/agent" }

// dirID is the host's part of agent directory names: its address and port, as a file name.
func (h Host) dirID() string {
	addr := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, h.Address)
	return fmt.Sprintf("%s-%d", addr, h.Port)
}

// healthTimeout bounds one health check of a running agent.
const healthTimeout = 5 * time.Second

// Provision claims req.Requirements.Nodes() free hosts of the offer's pool that fit (in pool order), or takes
// the cluster's own hosts when it exists, and deploys the agent on each in parallel. A new cluster that fails
// to come up has its agents stopped and its claims released.
func (p *Provider) Provision(ctx context.Context, req cloud.ProvisionRequest) (*cloud.ClusterInfo, error) {
	name := req.Cluster.Name
	if !namePattern.MatchString(name) {
		return nil, fmt.Errorf("ssh cluster name %q: use letters, digits, '.', '_' and '-', starting with a letter or digit", name)
	}
	if req.Offer.Cloud != "" && !strings.EqualFold(req.Offer.Cloud, Name) {
		return nil, fmt.Errorf("provision ssh cluster %s: the offer is for %s", name, req.Offer.Cloud)
	}
	pool := req.Offer.Region
	if pool == "" {
		pool = req.Requirements.Region
	}
	bin, err := p.agentBinary()
	if err != nil {
		return nil, fmt.Errorf("provision ssh cluster %s: %w", name, err)
	}
	var cs *clusterState
	fresh := false
	err = p.update(ctx, func(s *state) error {
		if have := s.Clusters[name]; have != nil {
			if pool != "" && have.Pool != pool {
				return fmt.Errorf("cluster %s runs on SSH node pool %s, not %s: run `stix down %s` first", name, have.Pool, pool, name)
			}
			if n := req.Requirements.Nodes(); len(have.Nodes) != n {
				return fmt.Errorf("cluster %s exists with %d nodes and the request asks for %d: run `stix down %s` first", name, len(have.Nodes), n, name)
			}
			if req.Secret != "" && have.Secret != req.Secret {
				return fmt.Errorf("ssh cluster %s already has another secret: pass its ClusterInfo.Secret, or none", name)
			}
			cs = have
			return nil
		}
		if pool == "" {
			return fmt.Errorf("provision ssh cluster %s: no node pool given: use infra ssh/<pool>", name)
		}
		if s.Pools[pool] == nil {
			return fmt.Errorf("SSH node pool %s is not up: run `stix ssh up --infra %s`", pool, pool)
		}
		_, free, reasons := fitting(s, pool, req.Requirements)
		n := req.Requirements.Nodes()
		if len(free) < n {
			return &cloud.CapacityError{Place: cloud.Place{Cloud: Name, Region: pool},
				Reason: fmt.Sprintf("%d free host(s) fit, the cluster needs %d%s", len(free), n, reasonSuffix(reasons))}
		}
		secret := req.Secret
		if secret == "" {
			var err error
			if secret, err = nodeagent.NewSecret(); err != nil {
				return err
			}
		}
		// bringUp makes the cluster's CA (clusterCA).
		cs = &clusterState{Pool: pool, Secret: secret, CreatedAt: time.Now().UTC()}
		for _, h := range free[:n] {
			cs.Nodes = append(cs.Nodes, nodeState{Host: h.Host, Resources: h.Resources})
		}
		s.Clusters[name] = cs
		fresh = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("provision ssh cluster %s: %w", name, err)
	}
	info, err := p.bringUp(ctx, bin, name, cs, req.Report)
	if err != nil {
		if fresh {
			cleanup := context.WithoutCancel(ctx)
			err = errors.Join(err, p.teardown(cleanup, name, cs, false), p.forget(cleanup, name))
		}
		return nil, fmt.Errorf("provision ssh cluster %s: %w", name, err)
	}
	return info, nil
}

// bringUp deploys the agent on every node in parallel, records what the agents reported and returns the
// cluster's info.
//
// Agent traffic is TLS with the cluster's CA (made here for a new cluster, or one from before TLS). The head
// listens on loopback: the client reaches it through the SSH tunnel, and only the head calls the workers, which
// listen on their hosts' addresses.
func (p *Provider) bringUp(ctx context.Context, bin, name string, cs *clusterState, report func(string)) (*cloud.ClusterInfo, error) {
	ca, err := p.clusterCA(ctx, name, cs)
	if err != nil {
		return nil, err
	}
	nodes := make([]nodeState, len(cs.Nodes))
	err = eachNode(ctx, cs.Nodes, func(ctx context.Context, rank int, n nodeState) error {
		tr, err := p.dial(ctx, cs.Pool, n.Host, p.clusterKnownHosts(name))
		if err != nil {
			return err
		}
		defer tr.Close()
		if report != nil {
			report(fmt.Sprintf("starting agent on %s", n.Host.Name))
		}
		listen := net.JoinHostPort(n.Host.Address, "0")
		if rank == 0 {
			listen = "127.0.0.1:0"
		}
		addr, h, err := nodeagent.Deploy(ctx, tr, nodeagent.DeployOptions{Binary: bin, Dir: agentDir(name, n.Host),
			Listen: listen, Secret: cs.Secret, Home: "~", StartTimeout: p.startTimeout, CA: ca})
		if err != nil {
			return fmt.Errorf("host %s: %w", n.Host.Name, err)
		}
		nodes[rank] = nodeState{Host: n.Host, Home: tr.Home(), AgentAddr: addr, Resources: h.Resources}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = p.update(ctx, func(s *state) error {
		c := s.Clusters[name]
		if c == nil {
			return &cloud.NotFoundError{Place: cloud.Place{Cloud: Name, Region: cs.Pool}, Cluster: name, Reason: "removed while it was starting"}
		}
		c.Nodes, c.Stopped = nodes, false
		*cs = *c
		return nil
	})
	if err != nil {
		return nil, err
	}
	return info(name, cs)
}

// clusterCA returns the cluster's CA, making and recording one for a cluster that has none.
func (p *Provider) clusterCA(ctx context.Context, name string, cs *clusterState) (*agenttls.CA, error) {
	if cs.CACert != "" {
		return agenttls.ParseCA([]byte(cs.CACert), []byte(cs.CAKey))
	}
	ca, err := agenttls.NewCA(name)
	if err != nil {
		return nil, err
	}
	err = p.update(ctx, func(s *state) error {
		if c := s.Clusters[name]; c != nil {
			c.CACert, c.CAKey = string(ca.CertPEM), string(ca.KeyPEM)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	cs.CACert, cs.CAKey = string(ca.CertPEM), string(ca.KeyPEM)
	return ca, nil
}

// eachNode runs fn for every node at once and joins the errors; the first failure cancels the others' ctx.
func eachNode(ctx context.Context, nodes []nodeState, fn func(ctx context.Context, rank int, n nodeState) error) error {
	return cloud.EachNode(ctx, len(nodes), func(ctx context.Context, rank int) error { return fn(ctx, rank, nodes[rank]) })
}

// cluster returns the recorded cluster, or a *cloud.NotFoundError.
func (p *Provider) cluster(name string) (*clusterState, error) {
	s, err := p.readState()
	if err != nil {
		return nil, err
	}
	cs := s.Clusters[name]
	if cs == nil {
		return nil, &cloud.NotFoundError{Place: cloud.Place{Cloud: Name}, Cluster: name, Reason: "no SSH node pool holds it"}
	}
	return cs, nil
}

// Start deploys the agents again on the cluster's hosts (Deploy leaves a healthy agent alone).
func (p *Provider) Start(ctx context.Context, ref cloud.ClusterRef) (*cloud.ClusterInfo, error) {
	bin, err := p.agentBinary()
	if err != nil {
		return nil, fmt.Errorf("start ssh cluster %s: %w", ref.Name, err)
	}
	cs, err := p.cluster(ref.Name)
	if err != nil {
		return nil, err
	}
	info, err := p.bringUp(ctx, bin, ref.Name, cs, nil)
	if err != nil {
		return nil, fmt.Errorf("start ssh cluster %s: %w", ref.Name, err)
	}
	return info, nil
}

// Stop ends the agents and their jobs on every host, keeping the claims and the files.
func (p *Provider) Stop(ctx context.Context, ref cloud.ClusterRef) error {
	cs, err := p.cluster(ref.Name)
	if err != nil {
		return err
	}
	err = p.update(ctx, func(s *state) error {
		if c := s.Clusters[ref.Name]; c != nil {
			c.Stopped = true
		}
		return nil
	})
	if err == nil {
		err = p.teardown(ctx, ref.Name, cs, false)
	}
	if err != nil {
		return fmt.Errorf("stop ssh cluster %s: %w", ref.Name, err)
	}
	return nil
}

// Terminate ends the agents and jobs, removes the cluster's directory and ~/sky_workdir on every host, and
// releases the hosts. A cluster that is gone already is not an error; a host that cannot be reached keeps
// the cluster recorded, so that the error can be fixed and Terminate retried.
func (p *Provider) Terminate(ctx context.Context, ref cloud.ClusterRef) error {
	cs, err := p.cluster(ref.Name)
	var nf *cloud.NotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := p.teardown(ctx, ref.Name, cs, true); err != nil {
		return fmt.Errorf("terminate ssh cluster %s: %w", ref.Name, err)
	}
	return p.forget(ctx, ref.Name)
}

// forget releases the cluster's hosts.
func (p *Provider) forget(ctx context.Context, name string) error {
	return p.update(ctx, func(s *state) error {
		delete(s.Clusters, name)
		return nil
	})
}

// teardown stops the cluster's agents on every host, and with remove then deletes each host's agent directory,
// the cluster's directory once empty, and ~/sky_workdir. Removal waits until every agent is stopped: hosts may
// share one home directory, and a host must not delete what another host's stop still needs.
func (p *Provider) teardown(ctx context.Context, name string, cs *clusterState, remove bool) error {
	bin, err := p.agentBinary()
	if err != nil {
		return err
	}
	remoteBin, err := nodeagent.RemoteBinary(bin, "")
	if err != nil {
		return err
	}
	onEach := func(fn func(tr *sshtransport.Transport, dir string) error) error {
		// Best effort on every host: one host's failure must not cut short another's stop.
		return eachNode(ctx, cs.Nodes, func(_ context.Context, _ int, n nodeState) error {
			tr, err := p.dial(ctx, cs.Pool, n.Host, p.clusterKnownHosts(name))
			if err != nil {
				return err
			}
			defer tr.Close()
			if err := fn(tr, tr.Resolve(agentDir(name, n.Host))); err != nil {
				return fmt.Errorf("host %s: %w", n.Host.Name, err)
			}
			return nil
		})
	}
	err = onEach(func(tr *sshtransport.Transport, dir string) error {
		return killAll(ctx, tr, remoteBin, dir, tr.Resolve(legacyAgentDir(name)))
	})
	if err != nil || !remove {
		return err
	}
	return onEach(func(tr *sshtransport.Transport, dir string) error {
		cmd := "rm -rf " + shellWord(dir) + " " + shellWord(tr.Resolve(legacyAgentDir(name))) + " " + shellWord(tr.Resolve("~/sky_workdir")) +
			" && { rmdir " + shellWord(path.Dir(dir)) + " 2>/dev/null; true; }"
		_, err := output(ctx, tr, cmd)
		return err
	})
}

// Query asks every host: running when its agent answers, stopped after Stop, pending when the host or its agent
// does not answer, missing when the agent directory is gone.
func (p *Provider) Query(ctx context.Context, ref cloud.ClusterRef) ([]cloud.NodeState, error) {
	cs, err := p.cluster(ref.Name)
	var nf *cloud.NotFoundError
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	states := make([]cloud.NodeState, len(cs.Nodes))
	_ = eachNode(ctx, cs.Nodes, func(_ context.Context, rank int, n nodeState) error {
		states[rank] = p.nodeStatus(ctx, ref.Name, cs, rank, n)
		return nil
	})
	return states, nil
}

func (p *Provider) nodeStatus(ctx context.Context, name string, cs *clusterState, rank int, n nodeState) cloud.NodeState {
	st := cloud.NodeState{Rank: rank}
	tr, err := p.dial(ctx, cs.Pool, n.Host, p.clusterKnownHosts(name))
	if err != nil {
		st.Status, st.Reason = cloud.NodePending, err.Error()
		return st
	}
	defer tr.Close()
	dir := tr.Resolve(agentDir(name, n.Host))
	// Three lines: "dir" when the agent directory exists, the agent's address, its autostop mark.
	out, err := output(ctx, tr, "if [ -d "+shellWord(dir)+" ]; then echo dir; cat "+shellWord(path.Join(dir, nodeagent.AddrFile))+
		" 2>/dev/null; echo; cat "+shellWord(path.Join(dir, agent.AutostopMarkFile))+" 2>/dev/null; fi; true")
	lines := strings.Split(out, "\n")
	switch {
	case err != nil:
		st.Status, st.Reason = cloud.NodePending, fmt.Sprintf("host %s: %v", n.Host.Name, err)
		return st
	case strings.TrimSpace(lines[0]) != "dir":
		st.Status, st.Reason = cloud.NodeMissing, fmt.Sprintf("agent directory %s on host %s is gone", dir, n.Host.Name)
		return st
	}
	addr, mark := "", cloud.SelfStopNone
	if len(lines) > 1 {
		addr = strings.TrimSpace(lines[1])
	}
	if len(lines) > 2 {
		mark = cloud.ParseSelfStopMark(lines[2])
	}
	hctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	tlsCfg, err := agenttls.ClientConfig([]byte(cs.CACert))
	if err != nil {
		st.Status, st.Reason = cloud.NodePending, err.Error()
		return st
	}
	if _, herr := nodeagent.CheckHealth(hctx, tr.Dial, addr, cs.Secret, agent.WithTLS(tlsCfg)); herr == nil {
		st.Status = cloud.NodeRunning
	} else if cs.Stopped {
		st.Status, st.Reason = cloud.NodeStopped, "stopped"
	} else if mark != cloud.SelfStopNone {
		st.Status, st.Reason = cloud.NodeStopped, "stopped by autostop"
	} else {
		st.Status, st.Reason = cloud.NodePending, fmt.Sprintf("agent on host %s does not answer (%v): `stix start` restarts it", n.Host.Name, herr)
	}
	return st
}

// info builds a ClusterInfo: nodes in host order, each node's IP its host's address.
func info(name string, cs *clusterState) (*cloud.ClusterInfo, error) {
	h := handle{Cluster: name, Pool: cs.Pool}
	ci := &cloud.ClusterInfo{Cloud: Name, Region: cs.Pool, Secret: cs.Secret, CACert: cs.CACert}
	for i, n := range cs.Nodes {
		h.Hosts = append(h.Hosts, n.Host)
		ci.Nodes = append(ci.Nodes, cloud.NodeInfo{
			Rank:       i,
			InternalIP: n.Host.Address,
			ExternalIP: n.Host.Address,
			AgentAddr:  n.AgentAddr,
			Home:       n.Home,
			AgentDir:   path.Join(n.Home, strings.TrimPrefix(agentDir(name, n.Host), "~/")),
			Resources:  n.Resources,
		})
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	ci.Handle = b
	return ci, nil
}

// Transport opens an SSH connection to the node of the given rank, trusting the cluster's known_hosts.
func (p *Provider) Transport(ctx context.Context, ci *cloud.ClusterInfo, rank int) (transport.Transport, error) {
	if ci == nil || rank < 0 || rank >= len(ci.Nodes) {
		return nil, fmt.Errorf("ssh cluster: no node of rank %d", rank)
	}
	var h handle
	if err := json.Unmarshal(ci.Handle, &h); err != nil || len(h.Hosts) != len(ci.Nodes) {
		return nil, fmt.Errorf("ssh cluster: malformed handle %.100s: %v", ci.Handle, err)
	}
	if !namePattern.MatchString(h.Cluster) {
		return nil, fmt.Errorf("ssh cluster: the handle names no valid cluster (%q)", h.Cluster)
	}
	return p.dial(ctx, h.Pool, h.Hosts[rank], p.clusterKnownHosts(h.Cluster))
}
