package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/kubeapi"
)

var _ cloud.NodeWatcher = (*Provider)(nil)

// WatchNodes watches the cluster's pods (its label selector): a pod deleted or being deleted is a node gone;
// a pod Failed or Succeeded, or whose container terminated, a node stopped. Each rank is told once.
func (p *Provider) WatchNodes(ctx context.Context, ref cloud.ClusterRef) (<-chan cloud.NodeEvent, error) {
	h, err := p.parseHandle(ref)
	if err != nil {
		return nil, err
	}
	cli, err := p.client(h.Context)
	if err != nil {
		return nil, err
	}
	path := kubeapi.Query(kubeapi.NSPath(h.Namespace, "pods", ""), "labelSelector", p.selector(ref.Name))
	var list struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
		Items []pod `json:"items"`
	}
	if err := cli.Get(ctx, path, &list); err != nil {
		return nil, fmt.Errorf("kubernetes context %s: list pods: %w", h.Context, err)
	}
	evs, err := cli.Watch(ctx, path, list.Metadata.ResourceVersion)
	if err != nil {
		return nil, fmt.Errorf("kubernetes context %s: watch pods: %w", h.Context, err)
	}
	out := make(chan cloud.NodeEvent, len(h.Pods)+1)
	told := map[int]bool{}
	// What ended before the watch began, the list tells.
	for rank, name := range h.Pods {
		i := slices.IndexFunc(list.Items, func(pd pod) bool { return pd.Metadata.Name == name })
		st := cloud.NodeState{Rank: rank, Status: cloud.NodeMissing, Reason: "pod " + name + " is gone"}
		if i >= 0 {
			var ok bool
			if st, ok = podLost(rank, &list.Items[i], false); !ok {
				continue
			}
		}
		told[rank] = true
		out <- cloud.NodeEvent{NodeState: st}
	}
	go func() {
		defer close(out)
		for ev := range evs {
			if ev.Type == "ERROR" {
				return // the version is too old, or the server ended the watch: the caller watches again
			}
			var pd pod
			if json.Unmarshal(ev.Object, &pd) != nil {
				continue
			}
			rank := slices.Index(h.Pods, pd.Metadata.Name)
			if rank < 0 || told[rank] {
				continue
			}
			st, lost := podLost(rank, &pd, ev.Type == "DELETED")
			if !lost {
				continue
			}
			told[rank] = true
			select {
			case out <- cloud.NodeEvent{NodeState: st, At: time.Now()}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// podLost says whether a pod no longer runs its node: deleted, being deleted, ended, or its container ended.
func podLost(rank int, pd *pod, deleted bool) (cloud.NodeState, bool) {
	name := pd.Metadata.Name
	switch {
	case deleted:
		return cloud.NodeState{Rank: rank, Status: cloud.NodeMissing, Reason: "pod " + name + " was deleted"}, true
	case pd.Metadata.DeletionTimestamp != nil:
		return cloud.NodeState{Rank: rank, Status: cloud.NodeMissing, Reason: "pod " + name + " is being deleted"}, true
	case pd.Status.Phase == "Failed" || pd.Status.Phase == "Succeeded":
		why := "pod " + name + " " + strings.ToLower(pd.Status.Phase)
		if pd.Status.Reason != "" {
			why += ": " + pd.Status.Reason
		}
		return cloud.NodeState{Rank: rank, Status: cloud.NodeStopped, Reason: why}, true
	}
	for _, cs := range pd.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil {
			why := fmt.Sprintf("container %s of pod %s terminated", cs.Name, name)
			if t.Reason != "" {
				why += ": " + t.Reason
			}
			return cloud.NodeState{Rank: rank, Status: cloud.NodeStopped, Reason: why}, true
		}
	}
	return cloud.NodeState{}, false
}
