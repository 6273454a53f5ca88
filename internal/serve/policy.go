package serve

import (
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stix-run/stix/internal/spec"
)

// Policy names, SkyServe's.
const (
	PolicyLeastLoad              = "least_load"
	PolicyRoundRobin             = "round_robin"
	PolicyInstanceAwareLeastLoad = spec.InstanceAwareLeastLoad
)

type policy int

const (
	leastLoad policy = iota
	roundRobin
	instanceAware
)

func parsePolicy(name string) (policy, error) {
	switch name {
	case "", PolicyLeastLoad:
		return leastLoad, nil
	case PolicyRoundRobin:
		return roundRobin, nil
	case PolicyInstanceAwareLeastLoad:
		return instanceAware, nil
	}
	return 0, fmt.Errorf("unknown load balancing policy %q (one of %s)", name, strings.Join(spec.LoadBalancingPolicies, ", "))
}

// backend is one replica as the load balancer sees it. It outlives a replica-set change that keeps its URL, so
// its load count stays right; requests in flight hold it, so a removed replica's requests finish and count down.
type backend struct {
	Replica
	scheme, host string
	load         atomic.Int64 // requests in flight, response bodies included
	ejectedUntil atomic.Int64 // UnixNano; a connection to it failed, skip it until then
	removed      atomic.Bool
	transport    transportCloser
}

func (b *backend) ejected(now func() time.Time) bool {
	until := b.ejectedUntil.Load()
	return until != 0 && now().UnixNano() < until
}

// targetQPS weighs a replica for instance_aware_least_load: its accelerator's target, or 1 (SkyServe's
// fallback for the load balancer) when the accelerator is not listed.
func targetQPS(perAcc map[string]float64, acc string) float64 {
	if q, ok := lookupQPS(perAcc, acc); ok && q > 0 {
		return q
	}
	return 1
}

// pick chooses a backend for one attempt, never one in tried. Replicas whose connection just failed are passed
// over while another is left. Ties (and round_robin) rotate through the list, so sequential requests to idle
// replicas spread rather than all going to the first (SkyServe's least_load takes the first of equals).
func (s *snapshot) pick(tried []*backend, now func() time.Time) *backend {
	n := len(s.backends)
	if n == 0 {
		return nil
	}
	start := int(s.next.Add(1) % uint64(n))
	for pass := 0; pass < 2; pass++ {
		var best *backend
		bestScore := math.Inf(1)
		for i := 0; i < n; i++ {
			j := (start + i) % n
			b := s.backends[j]
			if contains(tried, b) || (pass == 0 && b.ejected(now)) {
				continue
			}
			if s.policy == roundRobin {
				return b
			}
			// The load the policy compares: requests in flight, per unit of the accelerator's capacity.
			if sc := float64(b.load.Load()) / s.weights[j]; best == nil || sc < bestScore {
				best, bestScore = b, sc
			}
		}
		if best != nil {
			return best
		}
	}
	return nil
}

func contains(bs []*backend, b *backend) bool {
	for _, x := range bs {
		if x == b {
			return true
		}
	}
	return false
}
