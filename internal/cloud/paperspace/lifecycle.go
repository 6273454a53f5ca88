package paperspace

import (
	"context"
	"fmt"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
)

// Stop stops the cluster's machines (PATCH /machines/{id}/stop) and waits until they are off; their disks stay,
// billed as storage.
func (p *Provider) Stop(ctx context.Context, ref cloud.ClusterRef) error {
	s, err := vm.Known[state](p.m, ref.Name)
	if err != nil {
		return err
	}
	place := cloud.Place{Cloud: Name, Region: s.Region}
	c, err := newClient()
	if err != nil {
		return err
	}
	all, err := c.machines(ctx)
	if err != nil {
		return fmt.Errorf("stop paperspace cluster %s: %w", ref.Name, classify("list machines", place, err))
	}
	for i, m := range byID(all, s.MachineIDs) {
		switch m.State {
		case "":
			return fmt.Errorf("stop paperspace cluster %s: machine %s of node %d is gone: run `stix down %s`", ref.Name, s.MachineIDs[i], i, ref.Name)
		case "off", "stopping":
			continue
		}
		if err := c.machineAction(ctx, m.ID, "stop"); err != nil {
			return fmt.Errorf("stop paperspace cluster %s: %w", ref.Name, classify("stop machine "+m.ID, place, err))
		}
	}
	if err := p.waitState(ctx, c, place, s.MachineIDs, "off"); err != nil {
		return fmt.Errorf("stop paperspace cluster %s: %w", ref.Name, err)
	}
	return nil
}

// Start starts the cluster's stopped machines (PATCH /machines/{id}/start; a stopping one once it is off) and
// deploys the agents again: a machine's dynamic public address may change.
func (p *Provider) Start(ctx context.Context, ref cloud.ClusterRef) (*cloud.ClusterInfo, error) {
	s, err := vm.Known[state](p.m, ref.Name)
	if err != nil {
		return nil, err
	}
	place := cloud.Place{Cloud: Name, Region: s.Region}
	c, err := newClient()
	if err != nil {
		return nil, err
	}
	all, err := c.machines(ctx)
	if err != nil {
		return nil, fmt.Errorf("start paperspace cluster %s: %w", ref.Name, classify("list machines", place, err))
	}
	var stopped []string
	for i, m := range byID(all, s.MachineIDs) {
		switch m.State {
		case "":
			return nil, fmt.Errorf("start paperspace cluster %s: machine %s of node %d is gone: run `stix down %s` and launch again",
				ref.Name, s.MachineIDs[i], i, ref.Name)
		case "off", "stopping":
			stopped = append(stopped, m.ID)
		}
	}
	if len(stopped) > 0 {
		if err := p.waitState(ctx, c, place, stopped, "off"); err != nil { // a stopping machine cannot start yet
			return nil, fmt.Errorf("start paperspace cluster %s: %w", ref.Name, err)
		}
		for _, id := range stopped {
			if err := c.machineAction(ctx, id, "start"); err != nil {
				return nil, fmt.Errorf("start paperspace cluster %s: %w", ref.Name, classify("start machine "+id, place, err))
			}
		}
	}
	info, err := p.bringUp(ctx, c, ref.Name, s, func(string) {})
	if err != nil {
		return nil, fmt.Errorf("start paperspace cluster %s: %w", ref.Name, err)
	}
	return info, nil
}

// waitState waits until every machine of ids is in the state.
func (p *Provider) waitState(ctx context.Context, c *client, place cloud.Place, ids []string, want string) error {
	return p.m.Poll(ctx, fmt.Sprintf("machines %s are not %s", strings.Join(ids, ", "), want), func(ctx context.Context) (bool, error) {
		all, err := c.machines(ctx)
		if err != nil {
			return false, classify("list machines", place, err)
		}
		for i, m := range byID(all, ids) {
			if m.ID == "" {
				return false, fmt.Errorf("machine %s is gone", ids[i])
			}
			if m.State != want {
				return false, nil
			}
		}
		return true, nil
	})
}
