package local

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Every local node gets its own loopback address as node IP, so that SKYPILOT_NODE_IPS lists distinct hosts and
// two nodes can serve on the same port. The addresses are 127.S.x.y, where S (1..254) comes from a hash of the
// provider's root: two stix homes on one machine (parallel tests) rarely share S, and 127.0.x.y (127.0.0.1,
// Debian's 127.0.1.1, systemd-resolved's 127.0.0.53) is never used. Within a root, addresses are handed out
// under a file lock from what the existing clusters' records hold, so live clusters never collide.

// subnet is S, the second octet of this provider's addresses.
func (p *Provider) subnet() byte {
	h := fnv.New32a()
	h.Write([]byte(filepath.Clean(p.root)))
	return byte(1 + h.Sum32()%254)
}

// subnetIP returns 127.S.x.y.
func (p *Provider) subnetIP(x, y byte) string {
	return netip.AddrFrom4([4]byte{127, p.subnet(), x, y}).String()
}

// lockRoot takes the provider's lock, creating the root when needed. The lock guards address allocation and
// the creation and removal of cluster directories, and is held for milliseconds; unlock releases it.
func (p *Provider) lockRoot(ctx context.Context) (unlock func(), err error) {
	return lockFile(ctx, filepath.Join(p.root, ".lock"))
}

// lockCluster serialises the operations on one cluster (two launches of the same cluster must not start two
// agents per node). The lock files live in Root/.locks and outlive their clusters: they are empty.
func (p *Provider) lockCluster(ctx context.Context, dir string) (unlock func(), err error) {
	return lockFile(ctx, filepath.Join(p.root, ".locks", filepath.Base(dir)))
}

// lockFile takes an exclusive flock on path, creating it and its directory, until ctx ends.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for lock %s (another stix command is working on it): %w", path, ctx.Err())
		case <-tick.C:
		}
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// allocateIPs picks n addresses that no cluster under the root holds. The caller holds the lock and records
// the addresses before releasing it.
func (p *Provider) allocateIPs(n int) ([]string, error) {
	used := map[string]bool{}
	recs, err := p.records()
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		for _, node := range r.Nodes {
			used[node.IP] = true
		}
	}
	var out []string
	// Host parts .0 and .255 are skipped: harmless on loopback, but confusing to read as node addresses.
	for x := 0; x < 256 && len(out) < n; x++ {
		for y := 1; y < 255 && len(out) < n; y++ {
			ip := p.subnetIP(byte(x), byte(y))
			if !used[ip] {
				out = append(out, ip)
			}
		}
	}
	if len(out) < n {
		return nil, fmt.Errorf("no free loopback address left in 127.%d.0.0/16 for %d nodes: run stix down on clusters you no longer need", p.subnet(), n)
	}
	return out, nil
}
