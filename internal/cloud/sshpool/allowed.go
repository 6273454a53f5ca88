package sshpool

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/stix-run/stix/internal/config"
)

// allowedPools is the config's ssh.allowed_node_pools: the pools a launch may use. A nil list allows every pool.
type allowedPools struct {
	names  []string
	origin config.Origin
}

func newAllowedPools(ctx context.Context) allowedPools {
	cfg := config.FromContext(ctx)
	o, _ := cfg.Origin("ssh.allowed_node_pools")
	return allowedPools{names: cfg.SSHAllowedNodePools(), origin: o}
}

func (a allowedPools) ok(pool string) bool { return a.names == nil || slices.Contains(a.names, pool) }

func (a allowedPools) String() string {
	return fmt.Sprintf("ssh.allowed_node_pools [%s] (set at %s)", strings.Join(a.names, ", "), a.origin)
}

// check refuses a pool the task names but the config does not allow.
func (a allowedPools) check(pool string) error {
	if a.ok(pool) {
		return nil
	}
	return fmt.Errorf("SSH node pool %s is not allowed by %s: add it there, or launch on an allowed pool", pool, a)
}
