package cluster

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/store"
)

// Match expands cluster names and glob patterns (`dev-*`) against the recorded clusters, in record order.
// all selects every cluster. A plain name that matches nothing is a NotFoundError; a glob may match nothing.
func (m *Manager) Match(ctx context.Context, patterns []string, all bool) ([]string, error) {
	st, err := m.store(ctx)
	if err != nil {
		return nil, err
	}
	recs, err := st.ListClusters(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range patterns {
		found := false
		for _, r := range recs {
			if ok, _ := path.Match(p, r.Name); ok || p == r.Name {
				found = true
				if !slices.Contains(out, r.Name) {
					out = append(out, r.Name)
				}
			}
		}
		if !found && !strings.ContainsAny(p, "*?[") {
			return nil, &api.ClusterNotFoundError{Name: p}
		}
	}
	if all {
		for _, r := range recs {
			if !slices.Contains(out, r.Name) {
				out = append(out, r.Name)
			}
		}
	}
	return out, nil
}

// Status lists the clusters (all of them, or those named), after asking their providers for the truth when
// refresh is set.
func (m *Manager) Status(ctx context.Context, names []string, refresh bool) ([]api.Cluster, error) {
	st, err := m.store(ctx)
	if err != nil {
		return nil, err
	}
	recs, err := st.ListClusters(ctx)
	if err != nil {
		return nil, err
	}
	if len(names) > 0 {
		recs = slices.DeleteFunc(recs, func(r *store.Cluster) bool { return !slices.Contains(names, r.Name) })
	}
	notes := make([]string, len(recs))
	if refresh {
		var wg sync.WaitGroup
		for i, r := range recs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				recs[i], notes[i] = m.refresh(ctx, st, r)
			}()
		}
		wg.Wait()
	}
	out := make([]api.Cluster, 0, len(recs))
	for i, r := range recs {
		if r == nil { // gone from its provider: refresh forgot it
			continue
		}
		c := toAPICluster(r)
		c.Note = notes[i]
		out = append(out, c)
	}
	return out, nil
}

// refresh reconciles one record with its provider's view and returns the updated record (nil when the
// cluster is gone) and a note saying what is wrong, if anything. A cluster that another stix process holds
// locked (it is being launched, stopped or torn down) is left as recorded.
func (m *Manager) refresh(ctx context.Context, st store.Store, rec *store.Cluster) (*store.Cluster, string) {
	unlock, err := st.TryLockCluster(ctx, rec.Name)
	if err != nil {
		return rec, ""
	}
	defer unlock()
	return m.refreshLocked(ctx, st, rec)
}

// refreshLocked is refresh for a caller that holds the cluster's lock.
func (m *Manager) refreshLocked(ctx context.Context, st store.Store, rec *store.Cluster) (*store.Cluster, string) {
	p, err := m.provider(rec)
	if err != nil {
		return rec, err.Error()
	}
	ref := cloud.ClusterRef{Name: rec.Name}
	if ci, err := info(rec); err == nil {
		ref.Handle = ci.Handle
	}
	nodes, err := p.Query(ctx, ref)
	if err != nil {
		return rec, fmt.Sprintf("could not query %s: %v", rec.Cloud, err)
	}
	status, note := reconcile(rec, nodes)
	// Only a cluster recorded running can have stopped itself: one recorded STOPPED was stopped by the user
	// (`stix stop`), which is a stop even where autodown is set, or was already found stopped, with a note
	// saying what to do when tearing it down failed.
	if status == store.StatusStopped && rec.Status != store.StatusStopped {
		if gone, why := m.finishAutodown(ctx, st, rec, p, ref); gone {
			return nil, ""
		} else if why != "" {
			note = why
		}
	}
	if status == "" {
		// Gone from its provider: forgotten as at `down`, its `persistent: false` buckets with it.
		_, _ = m.forgetCluster(ctx, st, rec.Name)
		return nil, ""
	}
	if status != rec.Status {
		rec.Status = status
		_ = st.SetClusterStatus(ctx, rec.Name, status, m.now())
	}
	return rec, note
}

// reconcile decides a cluster's status from its nodes' states, as SkyPilot does: all running is UP, all
// stopped is STOPPED, none left means the cluster is gone (""), anything else is INIT (abnormal).
func reconcile(rec *store.Cluster, nodes []cloud.NodeState) (store.ClusterStatus, string) {
	if len(nodes) == 0 {
		return "", ""
	}
	var running, stopped, missing int
	byState := map[cloud.NodeStatus][]int{}
	var order []cloud.NodeStatus
	for i, n := range nodes {
		switch n.Status {
		case cloud.NodeRunning:
			running++
			continue
		case cloud.NodeStopped:
			stopped++
		case cloud.NodeMissing:
			missing++
		}
		if _, seen := byState[n.Status]; !seen {
			order = append(order, n.Status)
		}
		byState[n.Status] = append(byState[n.Status], i)
	}
	switch {
	case len(rec.Handle) == 0 && missing < len(nodes):
		// Nodes run, or some do, but the launch that started them died before recording them.
		return store.StatusInit, fmt.Sprintf("its launch was interrupted before the nodes were recorded: "+
			"run `stix launch -c %s` again to resume it, or `stix down %s`", rec.Name, rec.Name)
	case running == rec.NumNodes:
		return store.StatusUp, ""
	case stopped == len(nodes):
		return store.StatusStopped, ""
	case missing == len(nodes):
		return "", ""
	}
	// One clause per state, not per node: "4 of 7 nodes stopped: nodes 1-3, 5; 1 of 7 nodes missing: node 6".
	clauses := make([]string, len(order))
	for i, s := range order {
		ranks := byState[s]
		noun := "node"
		if len(ranks) > 1 {
			noun = "nodes"
		}
		of := "nodes"
		if len(nodes) == 1 {
			of = "node"
		}
		clauses[i] = fmt.Sprintf("%d of %d %s %s: %s %s", len(ranks), len(nodes), of, s, noun, rankRanges(ranks))
	}
	return store.StatusInit, strings.Join(clauses, "; ")
}

// rankRanges writes ascending ranks with runs collapsed: [1 2 3 5] is "1-3, 5".
func rankRanges(ranks []int) string {
	var parts []string
	for i := 0; i < len(ranks); {
		j := i
		for j+1 < len(ranks) && ranks[j+1] == ranks[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(ranks[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", ranks[i], ranks[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// Stop stops a cluster's nodes, keeping their disks; its jobs are killed.
func (m *Manager) Stop(ctx context.Context, name string) error {
	return m.withCluster(ctx, name, func(st store.Store, rec *store.Cluster, p cloud.Provider, ref cloud.ClusterRef) error {
		sp, ok := p.(cloud.Stopper)
		if !ok {
			return stopUnsupported(rec)
		}
		if err := m.unmountBuckets(ctx, st, rec); err != nil {
			return fmt.Errorf("stop %q: %w", name, err)
		}
		if err := sp.Stop(ctx, ref); err != nil {
			return fmt.Errorf("stop %q: %w", name, err)
		}
		return st.SetClusterStatus(ctx, name, store.StatusStopped, m.now())
	})
}

// stopUnsupported is the error for stopping or starting a cluster whose provider cannot stop clusters.
func stopUnsupported(rec *store.Cluster) error {
	return &cloud.UnsupportedError{Cloud: catalog.DisplayName(rec.Cloud), Operation: "stopping and starting clusters",
		Hint: fmt.Sprintf("tear cluster %q down with `stix down %s` instead", rec.Name, rec.Name)}
}

// Start restarts a stopped cluster, or the agents of an UP one that lost them, and waits until it is UP.
func (m *Manager) Start(ctx context.Context, name string, progress api.ProgressFunc) error {
	return m.withCluster(ctx, name, func(st store.Store, rec *store.Cluster, _ cloud.Provider, _ cloud.ClusterRef) error {
		// A start is a use, as in SkyPilot: COMMAND shows it (and restart makes it a launch).
		rec.LastUse = store.LastUse{At: m.now(), Command: "stix start " + name}
		_, err := m.restart(ctx, st, rec, progress)
		return err
	})
}

// Down tears a cluster down and forgets it; its cost history stays. With purge, a provider error is reported
// but the record is removed anyway.
func (m *Manager) Down(ctx context.Context, name string, purge bool) error {
	return m.withCluster(ctx, name, func(st store.Store, rec *store.Cluster, p cloud.Provider, ref cloud.ClusterRef) error {
		if err := m.unmountBuckets(ctx, st, rec); err != nil && !purge {
			return fmt.Errorf("tear down %q: %w (use --purge to tear it down anyway)", name, err)
		}
		if err := p.Terminate(ctx, ref); err != nil && !purge {
			return fmt.Errorf("tear down %q: %w (use --purge to forget it anyway)", name, err)
		}
		err, bucketErr := m.forgetCluster(ctx, st, name)
		if err != nil {
			return err
		}
		return bucketErr
	})
}

// forgetCluster removes a cluster whose nodes are gone from the state, whichever way they went (`down`,
// autodown, or found vanished by `status -r`): its record, its recorded mounts, and its `persistent: false`
// buckets (dropBuckets, on the endpoints their records name). err is the state's, when the record could not be
// removed (nothing else is done then); bucketErr says which buckets could not be deleted (their records stay,
// so `stix storage ls` shows them and `stix storage delete` removes them).
func (m *Manager) forgetCluster(ctx context.Context, st store.Store, name string) (err, bucketErr error) {
	if err := st.DeleteCluster(ctx, name, m.now()); err != nil {
		return err, nil
	}
	_ = st.SetValue(ctx, mountsKey(name), "")
	return nil, m.dropBuckets(ctx, st, name)
}

// withCluster runs fn with the cluster locked and its record, provider and reference loaded.
func (m *Manager) withCluster(ctx context.Context, name string, fn func(store.Store, *store.Cluster, cloud.Provider, cloud.ClusterRef) error) error {
	st, err := m.store(ctx)
	if err != nil {
		return err
	}
	unlock, err := st.LockCluster(ctx, name)
	if err != nil {
		return fmt.Errorf("lock cluster %q: %w", name, err)
	}
	defer unlock()
	rec, err := m.record(ctx, name)
	if err != nil {
		return err
	}
	p, err := m.provider(rec)
	if err != nil {
		return err
	}
	ref := cloud.ClusterRef{Name: name}
	if ci, err := info(rec); err == nil {
		ref.Handle = ci.Handle
	}
	return fn(st, rec, p, ref)
}

// CostReport lists every cluster stix launched, torn down ones included, with its estimated cost so far.
func (m *Manager) CostReport(ctx context.Context) ([]api.CostReportEntry, error) {
	st, err := m.store(ctx)
	if err != nil {
		return nil, err
	}
	hist, err := st.ClusterHistory(ctx)
	if err != nil {
		return nil, err
	}
	now := m.now()
	out := make([]api.CostReportEntry, 0, len(hist))
	for _, h := range hist {
		d, cost := h.Usage(now)
		status := string(h.Status)
		if !h.DeletedAt.IsZero() {
			status = "TERMINATED"
		}
		out = append(out, api.CostReportEntry{
			Name: h.Name, Status: status, NumNodes: h.NumNodes, Resources: resourcesString(h.Cloud, h.NumNodes, h.Resources),
			LaunchedAt: h.LaunchedAt, Duration: api.Seconds(d), HourlyPrice: h.HourlyPrice * float64(h.NumNodes), TotalCost: cost,
		})
	}
	return out, nil
}

func toAPICluster(r *store.Cluster) api.Cluster {
	c := api.Cluster{
		Name: r.Name, Status: api.ClusterStatus(r.Status), Infra: catalog.PlaceName(r.Cloud, r.Region, r.Zone),
		Cloud: r.Cloud, Region: r.Region, Zone: r.Zone, NumNodes: r.NumNodes,
		Resources: resourcesString(r.Cloud, r.NumNodes, r.Resources), LaunchedAt: r.LaunchedAt, LastUse: r.LastUse.Command,
		User: r.User, Workspace: r.Workspace, AutostopMins: r.Autostop.IdleMinutes, ToDown: r.Autostop.Down, HourlyPrice: r.HourlyPrice,
	}
	// A cluster whose launch did not record nodes has no head; info would build an error only to drop it.
	if len(r.Handle) > 0 {
		if ci, err := info(r); err == nil {
			if h, ok := ci.Head(); ok {
				c.HeadIP = h.InternalIP
			}
		}
	}
	return c
}
