package kubetest

import (
	"context"
	"fmt"
	"net/http"

	"github.com/stix-run/stix/internal/kubeapi"
)

// Node describes a fake node: its labels, capacity ("cpu": "32", "memory": "256Gi", "nvidia.com/gpu": "8") and
// taints.
type Node struct {
	Name     string
	Labels   map[string]string
	Capacity map[string]string
	Taints   []map[string]string
}

// AddNode creates a fake node that kwok manages (it becomes Ready and runs the pods bound to it).
func (p *Plane) AddNode(ctx context.Context, n Node) error {
	capacity := map[string]string{"cpu": "32", "memory": "256Gi", "pods": "110"}
	for k, v := range n.Capacity {
		capacity[k] = v
	}
	status := map[string]any{"capacity": capacity, "allocatable": capacity}
	obj := map[string]any{
		"apiVersion": "v1", "kind": "Node",
		"metadata": map[string]any{"name": n.Name, "labels": n.Labels,
			"annotations": map[string]string{"kwok.x-k8s.io/node": "fake"}},
		"spec":   map[string]any{"taints": n.Taints},
		"status": status,
	}
	if err := p.Client.Create(ctx, "/api/v1/nodes", obj, nil); err != nil {
		return fmt.Errorf("create node %s: %w", n.Name, err)
	}
	patch, err := kubeapi.MergePatch(map[string]any{"status": status})
	if err != nil {
		return err
	}
	if err := p.Client.Do(ctx, http.MethodPatch, "/api/v1/nodes/"+n.Name+"/status", patch, nil); err != nil {
		return fmt.Errorf("set the capacity of node %s: %w", n.Name, err)
	}
	return nil
}

// DeleteNode removes a node.
func (p *Plane) DeleteNode(ctx context.Context, name string) error {
	return p.Client.Delete(ctx, "/api/v1/nodes/"+name)
}
