package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/provision"
	"github.com/stix-run/stix/internal/spec"
	"github.com/stix-run/stix/internal/store"
)

// Endpoints returns where each port a cluster exposes (its resources.ports, as launched) is reached, through
// its provider's cloud.PortEndpoints; port 0 asks for every exposed port, another for that one only. A cluster
// that exposes no ports answers an empty map. Errors: an unknown cluster, a port the cluster does not expose,
// a cluster not UP, infra that cannot say.
func (m *Manager) Endpoints(ctx context.Context, name string, port int) (map[int]string, error) {
	rec, err := m.record(ctx, name)
	if err != nil {
		return nil, err
	}
	exposed, err := exposedPorts(rec)
	if err != nil {
		return nil, err
	}
	ports := exposed.List()
	if port != 0 {
		if !exposed.Contains(port) {
			if len(exposed) == 0 {
				return nil, fmt.Errorf("port %d is not exposed on cluster %q: it exposes no ports (launch it with `--ports %d` or resources.ports)", port, name, port)
			}
			return nil, fmt.Errorf("port %d is not exposed on cluster %q: it exposes %s", port, name, exposed)
		}
		ports = []int{port}
	}
	if rec.Status != store.StatusUp {
		return nil, &NotUpError{Name: name, Status: rec.Status}
	}
	if len(ports) == 0 {
		return map[int]string{}, nil
	}
	p, err := m.provider(rec)
	if err != nil {
		return nil, err
	}
	pe, ok := p.(cloud.PortEndpoints)
	if !ok {
		return nil, fmt.Errorf("%s infra does not report the endpoints of its clusters' ports: %w", rec.Cloud, errors.ErrUnsupported)
	}
	ci, err := info(rec)
	if err != nil {
		return nil, err
	}
	out, err := pe.Endpoints(ctx, ci, ports)
	if err != nil {
		return nil, fmt.Errorf("endpoints of %s: %w", name, err)
	}
	return out, nil
}

// exposedPorts are the ports a cluster was launched with, from its recorded plan.
func exposedPorts(rec *store.Cluster) (spec.Ports, error) {
	if len(rec.Assignment) == 0 {
		return nil, nil
	}
	var a provision.Assignment
	if err := json.Unmarshal(rec.Assignment, &a); err != nil {
		return nil, fmt.Errorf("cluster %q: read its recorded plan: %w", rec.Name, err)
	}
	ports, err := spec.ParsePorts(a.Requirements.Ports...)
	if err != nil {
		return nil, fmt.Errorf("cluster %q: its recorded ports: %w", rec.Name, err)
	}
	return ports, nil
}
