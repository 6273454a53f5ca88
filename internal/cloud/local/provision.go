package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/agent/proc"
	"github.com/stix-run/stix/internal/atomicfile"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/nodeagent"
)

// Provision creates the cluster (directories, addresses, secret, agents) or, when it exists, starts the agents
// that are not running; it returns once every agent answers. A new cluster that fails to come up is removed.
func (p *Provider) Provision(ctx context.Context, req cloud.ProvisionRequest) (*cloud.ClusterInfo, error) {
	name := req.Cluster.Name
	if req.Offer.Cloud != "" && !strings.EqualFold(req.Offer.Cloud, Name) {
		return nil, fmt.Errorf("provision local cluster %s: the offer is for %s", name, req.Offer.Cloud)
	}
	bin, err := p.agentBinary()
	if err != nil {
		return nil, fmt.Errorf("provision local cluster %s: %w", name, err)
	}
	dir, err := p.clusterDir(req.Cluster)
	if err != nil {
		return nil, err
	}
	unlock, err := p.lockCluster(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Other users of the machine must not read secrets, job tables or logs: the root and the cluster's
	// directory are private whoever made them first. (Jobs run as this user and can read them all: see
	// docs/providers.md on what local infra isolates.)
	for _, d := range []string{p.root, dir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("provision local cluster %s: %w", name, err)
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return nil, fmt.Errorf("provision local cluster %s: %w", name, err)
		}
	}
	rec, fresh, err := p.createOrOpen(ctx, dir, name, req.Requirements.Nodes())
	if err != nil {
		return nil, fmt.Errorf("provision local cluster %s: %w", name, err)
	}
	info, err := p.bringUp(ctx, bin, dir, rec, req.Secret, req.Report)
	if err != nil {
		if fresh {
			err = errors.Join(err, p.destroy(context.WithoutCancel(ctx), dir))
		}
		return nil, fmt.Errorf("provision local cluster %s: %w", name, err)
	}
	return info, nil
}

// createOrOpen returns the record of the cluster at dir, creating the cluster with n nodes when it does not
// exist (fresh is then true).
func (p *Provider) createOrOpen(ctx context.Context, dir, name string, n int) (rec *record, fresh bool, err error) {
	unlock, err := p.lockRoot(ctx)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	rec, err = readRecord(dir, name)
	var nf *cloud.NotFoundError
	switch {
	case err == nil:
		if len(rec.Nodes) != n {
			return nil, false, fmt.Errorf("the cluster exists with %d nodes and the request asks for %d: "+
				"run stix down %s first, or ask for %d nodes", len(rec.Nodes), n, name, len(rec.Nodes))
		}
		return rec, false, nil
	case !errors.As(err, &nf):
		return nil, false, err
	}
	ips, err := p.allocateIPs(n)
	if err != nil {
		return nil, false, err
	}
	rec = &record{Name: name, CreatedAt: time.Now().UTC()}
	for i, ip := range ips {
		for _, d := range []string{nodeDir(dir, i), agentDir(dir, i)} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return nil, false, fmt.Errorf("create node directory: %w", err)
			}
		}
		rec.Nodes = append(rec.Nodes, nodeRecord{Rank: i, IP: ip})
	}
	if err := writeRecord(dir, rec); err != nil {
		return nil, false, fmt.Errorf("write cluster record: %w", err)
	}
	return rec, true, nil
}

// clusterSecret decides the secret: the one asked for, else the cluster's own, else a new one. Asking for a
// secret other than the cluster's is an error: its agents would reject every caller that has the old one.
func clusterSecret(dir, name, asked string) (string, error) {
	have := readTrimmed(filepath.Join(agentDir(dir, 0), nodeagent.SecretFile))
	switch {
	case asked != "" && have != "" && asked != have:
		return "", fmt.Errorf("local cluster %s already has another secret: pass its ClusterInfo.Secret, or none", name)
	case asked != "":
		return asked, nil
	case have != "":
		return have, nil
	default:
		return nodeagent.NewSecret()
	}
}

// bringUp starts, in parallel, the agent of every node that is not answering, waits for all, records their
// resources and returns the cluster's info.
func (p *Provider) bringUp(ctx context.Context, bin, dir string, rec *record, askedSecret string, report func(string)) (*cloud.ClusterInfo, error) {
	secret, err := clusterSecret(dir, rec.Name, askedSecret)
	if err != nil {
		return nil, err
	}
	healths := make([]*nodeagent.Health, len(rec.Nodes))
	err = cloud.EachNode(ctx, len(rec.Nodes), func(ctx context.Context, i int) error {
		h, err := p.upNode(ctx, bin, agentDir(dir, i), nodeDir(dir, i), rec.Nodes[i].IP, secret, report)
		if err != nil {
			return fmt.Errorf("node %d (%s): %w", i, rec.Nodes[i].IP, err)
		}
		healths[i] = h
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, h := range healths {
		rec.Nodes[i].Resources = h.Resources
	}
	rec.Stopped = false
	if err := writeRecord(dir, rec); err != nil {
		return nil, fmt.Errorf("write cluster record: %w", err)
	}
	return p.info(dir, rec)
}

// upNode makes sure the agent of the agent directory adir (whose jobs' home is home) runs and answers with
// secret, starting it if needed.
func (p *Provider) upNode(ctx context.Context, bin, adir, home, ip, secret string, report func(string)) (*nodeagent.Health, error) {
	for _, d := range []string{home, adir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	if pid, serving := agent.RecordedAgentPID(adir); serving {
		hctx, cancel := context.WithTimeout(ctx, healthTimeout)
		h, err := nodeagent.CheckHealth(hctx, dialer.DialContext, readTrimmed(filepath.Join(adir, nodeagent.AddrFile)), secret)
		cancel()
		if err == nil && h.PID == pid {
			return h, nil
		}
	}
	// Whatever serves adir now does not answer as it should, or lost its pid file: replace the agents alone (a
	// second agent beside one would run the same job table twice). Their jobs keep running and the new agent
	// adopts them.
	if err := agent.StopAgent(adir, stopGrace); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(filepath.Join(adir, nodeagent.SecretFile), []byte(secret+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write secret: %w", err)
	}
	// Stale files of a previous agent would pass for the new one's.
	for _, f := range []string{nodeagent.AddrFile, nodeagent.PIDFile} {
		if err := os.Remove(filepath.Join(adir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	if report != nil {
		report(fmt.Sprintf("starting agent on %s", ip))
	}
	pid, err := launchAgent(ctx, bin, adir, home, ip, p.hide)
	if err != nil {
		return nil, err
	}
	ticks, _ := proc.StartTicks(pid) // none: it has exited already, which waitAgent reports with its log
	h, _, err := p.waitAgent(ctx, adir, pid, ticks, secret)
	if err != nil {
		// We launched pid a moment ago: it is ours to end, whatever it wrote or failed to write (or exec'd).
		_ = proc.StopProcess(pid, ticks, stopGrace)
		return nil, err
	}
	return h, nil
}

// Start restarts the agents of a stopped cluster on the same directories and addresses.
func (p *Provider) Start(ctx context.Context, ref cloud.ClusterRef) (*cloud.ClusterInfo, error) {
	bin, err := p.agentBinary()
	if err != nil {
		return nil, fmt.Errorf("start local cluster %s: %w", ref.Name, err)
	}
	dir, err := p.clusterDir(ref)
	if err != nil {
		return nil, err
	}
	unlock, err := p.lockCluster(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rec, err := readRecord(dir, ref.Name)
	if err != nil {
		return nil, err
	}
	info, err := p.bringUp(ctx, bin, dir, rec, "", nil)
	if err != nil {
		return nil, fmt.Errorf("start local cluster %s: %w", ref.Name, err)
	}
	return info, nil
}

// Stop ends the agents and their jobs and keeps the directories.
func (p *Provider) Stop(ctx context.Context, ref cloud.ClusterRef) error {
	dir, err := p.clusterDir(ref)
	if err != nil {
		return err
	}
	unlock, err := p.lockCluster(ctx, dir)
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := readRecord(dir, ref.Name)
	if err != nil {
		return err
	}
	rec.Stopped = true
	if err := writeRecord(dir, rec); err != nil {
		return fmt.Errorf("stop local cluster %s: %w", ref.Name, err)
	}
	if err := cloud.EachNode(ctx, len(rec.Nodes), func(_ context.Context, i int) error { return stopNode(agentDir(dir, i)) }); err != nil {
		return fmt.Errorf("stop local cluster %s: %w", ref.Name, err)
	}
	return nil
}

// Terminate ends the agents and their jobs and removes the cluster's directory. A cluster that is gone
// already is not an error.
func (p *Provider) Terminate(ctx context.Context, ref cloud.ClusterRef) error {
	dir, err := p.clusterDir(ref)
	if err != nil {
		return err
	}
	unlock, err := p.lockCluster(ctx, dir)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := p.destroy(ctx, dir); err != nil {
		return fmt.Errorf("terminate local cluster %s: %w", ref.Name, err)
	}
	return nil
}

// destroy stops every agent found in the cluster directory and removes it. A directory that is neither a
// recorded cluster nor directly under the root is left alone: a corrupt handle must not delete a user's files.
func (p *Provider) destroy(ctx context.Context, dir string) error {
	_, recErr := readRecord(dir, filepath.Base(dir))
	if recErr != nil && filepath.Dir(dir) != filepath.Clean(p.root) {
		return fmt.Errorf("%s holds no local cluster; not removing it: %w", dir, recErr)
	}
	// node-* too: clusters made before agent-* held their agents there.
	nodes, err := filepath.Glob(filepath.Join(dir, "agent-*"))
	if err != nil {
		return err
	}
	legacy, _ := filepath.Glob(filepath.Join(dir, "node-*"))
	nodes = append(nodes, legacy...)
	if err := cloud.EachNode(ctx, len(nodes), func(_ context.Context, i int) error { return stopNode(nodes[i]) }); err != nil {
		return err
	}
	unlock, err := p.lockRoot(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	// The record goes first: a half-removed directory then holds no addresses and no cluster.
	if err := os.Remove(filepath.Join(dir, recordFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.RemoveAll(dir)
}

// Query reports each node: running when its agent process lives and answers, pending when it lives but does
// not answer, stopped when it is gone, missing when the node's directory is.
func (p *Provider) Query(ctx context.Context, ref cloud.ClusterRef) ([]cloud.NodeState, error) {
	dir, err := p.clusterDir(ref)
	if err != nil {
		return nil, err
	}
	rec, err := readRecord(dir, ref.Name)
	var nf *cloud.NotFoundError
	if errors.As(err, &nf) {
		return []cloud.NodeState{}, nil
	}
	if err != nil {
		return nil, err
	}
	secret := readTrimmed(filepath.Join(agentDir(dir, 0), nodeagent.SecretFile))
	states := make([]cloud.NodeState, len(rec.Nodes))
	_ = cloud.EachNode(ctx, len(rec.Nodes), func(_ context.Context, i int) error {
		states[i] = p.nodeState(ctx, agentDir(dir, i), nodeDir(dir, i), i, secret, rec.Stopped)
		return nil
	})
	return states, nil
}
