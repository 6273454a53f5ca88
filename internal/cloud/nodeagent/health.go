package nodeagent

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/agent/fingerprint"
	"github.com/stix-run/stix/internal/cloud"
)

// Health is the agent's answer to GET /v1/health, with the node's resources in provider terms.
type Health struct {
	Version   string
	PID       int
	StartedAt time.Time
	Dir       string
	Resources cloud.Resources
}

// DialFunc opens a connection to an address as the node sees it: transport.Transport.Dial.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// CheckHealth asks the agent at addr whether it is up, authenticating with secret. It gives up when ctx ends.
// A wrong secret gives an error matching agent.ErrUnauthorized.
// opts say how to reach it (agent.WithTLS for agents with a certificate).
func CheckHealth(ctx context.Context, dial DialFunc, addr, secret string, opts ...agent.ClientOption) (*Health, error) {
	if addr == "" {
		return nil, fmt.Errorf("agent health: no agent address")
	}
	c := agent.NewClient(addr, secret, dial, opts...)
	defer c.Close()
	h, err := c.Health(ctx)
	if err != nil {
		return nil, fmt.Errorf("agent health at %s: %w", addr, err)
	}
	return &Health{Version: h.Version, PID: h.PID, StartedAt: h.StartedAt, Dir: h.Dir, Resources: Resources(h.Resources)}, nil
}

// Resources converts what the agent's fingerprint measured into provider terms.
func Resources(r fingerprint.Resources) cloud.Resources {
	out := cloud.Resources{CPUs: r.CPUs, MemoryGB: r.MemoryGB}
	if len(r.Accelerators) > 0 {
		out.Accelerators = make(map[string]float64, len(r.Accelerators))
		for name, n := range r.Accelerators {
			out.Accelerators[name] = float64(n)
		}
	}
	return out
}
