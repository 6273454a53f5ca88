package sshpool

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/stix-run/stix/internal/cloud"
	sshtransport "github.com/stix-run/stix/internal/transport/ssh"
)

// HostResult is what `ssh up` or `ssh down` did on one host.
type HostResult struct {
	Pool string
	Host Host
	// Resources are what `ssh up` measured.
	Resources cloud.Resources
	// Err says why the host failed; nil when it is ready (up) or clean (down).
	Err error
}

// selectPools returns the pool called name, or every pool when name is empty.
func (p *Provider) selectPools(name string) ([]Pool, error) {
	pools, err := p.Pools()
	if err != nil {
		return nil, err
	}
	if name == "" {
		return pools, nil
	}
	pool, err := Find(pools, name)
	if err != nil {
		return nil, err
	}
	return []Pool{pool}, nil
}

// Up prepares the hosts of the pool called name (every pool when empty): it connects to each, measures its
// CPUs, memory and GPUs, uploads the agent binary unless the host has this version, and records the hosts that
// succeeded as the pool's capacity. Hosts are handled in parallel; report, when set, is called as each ends.
// The error is for what stopped Up as a whole; per-host failures are in the results.
func (p *Provider) Up(ctx context.Context, name string, report func(HostResult)) ([]HostResult, error) {
	bin, err := p.agentBinary()
	if err != nil {
		return nil, fmt.Errorf("ssh up: %w", err)
	}
	pools, err := p.selectPools(name)
	if err != nil {
		return nil, err
	}
	var all []HostResult
	for _, pool := range pools {
		results := eachHost(pool, report, func(_ int, h Host) (cloud.Resources, error) {
			tr, err := p.dial(ctx, pool.Name, h, p.poolKnownHosts(pool.Name))
			if err != nil {
				return cloud.Resources{}, err
			}
			defer tr.Close()
			r, err := detect(ctx, tr)
			if err != nil {
				return r, err
			}
			return r, uploadAgent(ctx, tr, bin)
		})
		ps := &poolState{UpAt: time.Now().UTC()}
		for _, r := range results {
			if r.Err == nil {
				ps.Hosts = append(ps.Hosts, hostRecord{Host: r.Host, Resources: r.Resources})
			}
		}
		err := p.update(ctx, func(s *state) error {
			if len(ps.Hosts) == 0 {
				delete(s.Pools, pool.Name)
				return nil
			}
			// A host a cluster holds stays in the pool even if it failed now: its claim must not be lost.
			if old := s.Pools[pool.Name]; old != nil {
				claims := s.claims(pool.Name)
				for _, h := range old.Hosts {
					if _, held := claims[h.key()]; held && !hasHost(ps.Hosts, h.key()) {
						ps.Hosts = append(ps.Hosts, h)
					}
				}
			}
			s.Pools[pool.Name] = ps
			return nil
		})
		if err != nil {
			return all, err
		}
		all = append(all, results...)
	}
	return all, nil
}

// Down stops every stix agent on the hosts of the pool called name (every pool when empty), removes stix's
// directories there (~/.stix/clusters, ~/.stix/bin, ~/sky_workdir) and forgets the pool. It refuses while a
// cluster uses the pool.
func (p *Provider) Down(ctx context.Context, name string, report func(HostResult)) ([]HostResult, error) {
	pools, err := p.selectPools(name)
	if err != nil {
		return nil, err
	}
	s, err := p.readState()
	if err != nil {
		return nil, err
	}
	for _, pool := range pools {
		if used := s.clustersOn(pool.Name); len(used) > 0 {
			return nil, fmt.Errorf("SSH node pool %s is in use by cluster(s) %v: run `stix down` on them first", pool.Name, used)
		}
	}
	var all []HostResult
	for _, pool := range pools {
		all = append(all, p.downPool(ctx, pool, report)...)
		err := p.update(ctx, func(s *state) error {
			if used := s.clustersOn(pool.Name); len(used) > 0 {
				return fmt.Errorf("SSH node pool %s is in use by cluster(s) %v: run `stix down` on them first", pool.Name, used)
			}
			delete(s.Pools, pool.Name)
			return nil
		})
		if err != nil {
			return all, err
		}
	}
	return all, nil
}

// downPool stops the agents on every host of pool, then removes stix's files from every host, over one
// connection per host. Removal waits until every host's agents are stopped, and is skipped on all hosts when any
// stop failed: hosts may share one home directory, and a host must not delete the directory of an agent still
// running (here or on another host).
func (p *Provider) downPool(ctx context.Context, pool Pool, report func(HostResult)) []HostResult {
	conns := make([]*sshtransport.Transport, len(pool.Hosts))
	defer func() {
		for _, tr := range conns {
			if tr != nil {
				tr.Close()
			}
		}
	}()
	onHost := func(i int, h Host, script string) error {
		_, err := output(ctx, conns[i], "bash -c "+shellWord(script)+" stix-down "+shellWord(h.dirID()))
		return err
	}
	results := eachHost(pool, nil, func(i int, h Host) (cloud.Resources, error) {
		tr, err := p.dial(ctx, pool.Name, h, p.poolKnownHosts(pool.Name))
		if err != nil {
			return cloud.Resources{}, err
		}
		conns[i] = tr
		return cloud.Resources{}, onHost(i, h, downStopScript)
	})
	if Failed(results) {
		var stuck []string
		for _, r := range results {
			if r.Err != nil {
				stuck = append(stuck, r.Host.Name)
			}
		}
		for i := range results {
			if results[i].Err == nil {
				results[i].Err = fmt.Errorf("files not removed: stopping the agents failed on %s (fix that and run `stix ssh down` again)", strings.Join(stuck, ", "))
			}
		}
	} else {
		removed := eachHost(pool, nil, func(i int, h Host) (cloud.Resources, error) {
			return cloud.Resources{}, onHost(i, h, downRemoveScript)
		})
		for i := range results {
			results[i].Err = removed[i].Err
		}
	}
	if report != nil {
		for _, r := range results {
			report(r)
		}
	}
	return results
}

// downStopScript stops, with any agent version on the node, the agent of every cluster directory of this host
// ($1 is Host.dirID) and of the directories older versions used; stix-agent killall fails when an agent or job
// survives, and so does the script.
const downStopScript = `bin=
for b in "$HOME"/.stix/bin/stix-agent-*; do [ -x "$b" ] && bin=$b; done
for d in "$HOME"/.stix/clusters/*/agent-"$1" "$HOME"/.stix/clusters/*/agent; do
  [ -d "$d" ] || continue
  [ -n "$bin" ] || { echo "no stix-agent on the node to stop the agent of $d" >&2; exit 1; }
  "$bin" killall --dir "$d" || exit 1
done`

// downRemoveScript removes this host's cluster directories, then, when no other host's are left in a shared
// home, what else stix put there. ~/.stix itself goes only when nothing else is left in it: the node may run
// stix too.
const downRemoveScript = `rm -rf "$HOME"/.stix/clusters/*/agent-"$1" "$HOME"/.stix/clusters/*/agent || exit 1
for c in "$HOME"/.stix/clusters/*/; do rmdir "$c" 2>/dev/null; done
rmdir "$HOME/.stix/clusters" 2>/dev/null
if [ ! -d "$HOME/.stix/clusters" ]; then
  rm -rf "$HOME/.stix/bin" "$HOME/sky_workdir" && { rmdir "$HOME/.stix" 2>/dev/null; true; }
fi`

// eachHost runs fn on every host of pool in parallel and returns the results in pool order, reporting each as
// it ends.
func eachHost(pool Pool, report func(HostResult), fn func(i int, h Host) (cloud.Resources, error)) []HostResult {
	results := make([]HostResult, len(pool.Hosts))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, h := range pool.Hosts {
		wg.Go(func() {
			r, err := fn(i, h)
			res := HostResult{Pool: pool.Name, Host: h, Resources: r, Err: err}
			results[i] = res
			if report != nil {
				mu.Lock()
				report(res)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return results
}

func hasHost(hosts []hostRecord, key string) bool {
	for _, h := range hosts {
		if h.key() == key {
			return true
		}
	}
	return false
}

// Failed reports whether any result failed.
func Failed(results []HostResult) bool {
	for _, r := range results {
		if r.Err != nil {
			return true
		}
	}
	return false
}
