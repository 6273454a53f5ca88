package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/agent/agenttls"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/store"
)

// mountsKey is the state store key of a cluster's bucket mounts, kept (without credentials) so that `stix start`
// mounts them again.
func mountsKey(cluster string) string { return "cluster-mounts/" + cluster }

// mountSpecs are the mounts of plan's buckets, as the node agents take them, with the endpoint each bucket was
// checked or made on (Buckets.Endpoint: not a secret; `stix start` mounts there again, whatever the caller's
// environment names then) and without credentials.
func mountSpecs(plan *bucketPlan) []agent.Mount {
	if plan == nil {
		return nil
	}
	out := make([]agent.Mount, 0, len(plan.mounts))
	for _, b := range plan.mounts {
		ep, _ := plan.bs.Endpoint(b.Store)
		out = append(out, agent.Mount{Dest: b.Dest, Mode: agent.MountMode(b.Mode), Store: b.Store, Bucket: b.Bucket,
			Prefix: b.Prefix, MountOptions: b.MountOptions, Endpoint: ep})
	}
	return out
}

// mountBuckets records a cluster's mounts and makes them on every node: after provisioning and the file sync,
// before setup.
func (m *Manager) mountBuckets(ctx context.Context, st store.Store, rec *store.Cluster, plan *bucketPlan, progress api.ProgressFunc) error {
	specs := mountSpecs(plan)
	if len(specs) == 0 {
		return nil
	}
	b, err := json.Marshal(specs)
	if err != nil {
		return err
	}
	if err := st.SetValue(ctx, mountsKey(rec.Name), string(b)); err != nil {
		return err
	}
	return m.applyMounts(ctx, rec, plan.bs, specs, progress)
}

// remount makes a restarted cluster's recorded mounts again, on their recorded endpoints, with credentials
// resolved anew.
func (m *Manager) remount(ctx context.Context, st store.Store, rec *store.Cluster, progress api.ProgressFunc) error {
	specs, err := recordedMounts(ctx, st, rec.Name)
	if err != nil || len(specs) == 0 {
		return err
	}
	bs, err := m.bucketsFor(ctx)
	if err != nil {
		return fmt.Errorf("mount the buckets of %q again: %w", rec.Name, err)
	}
	return m.applyMounts(ctx, rec, bs, specs, progress)
}

func recordedMounts(ctx context.Context, st store.Store, cluster string) ([]agent.Mount, error) {
	v, ok, err := st.GetValue(ctx, mountsKey(cluster))
	if err != nil || !ok || v == "" {
		return nil, err
	}
	var specs []agent.Mount
	if err := json.Unmarshal([]byte(v), &specs); err != nil {
		return nil, fmt.Errorf("cluster %q: its recorded mounts: %w", cluster, err)
	}
	return specs, nil
}

// applyMounts sends every node its mounts, each with its store's recorded endpoint (the caller's where none is
// recorded) and the caller's credentials. A node that cannot make FUSE mounts, where a mode needs them, is an
// error naming why.
func (m *Manager) applyMounts(ctx context.Context, rec *store.Cluster, bs Buckets, specs []agent.Mount, progress api.ProgressFunc) error {
	access := map[[2]string]agent.Mount{}
	fuse := false
	mounts := make([]agent.Mount, len(specs))
	for i, s := range specs {
		k := [2]string{s.Store, s.Endpoint}
		a, ok := access[k]
		if !ok {
			var err error
			if a, err = bs.NodeAccess(ctx, s.Store, s.Endpoint); err != nil {
				return fmt.Errorf("credentials for %s://%s: %w", storeScheme(s.Store), s.Bucket, err)
			}
			access[k] = a
		}
		s.Endpoint, s.Region, s.PathStyle, s.Creds = a.Endpoint, a.Region, a.PathStyle, a.Creds
		mounts[i] = s
		fuse = fuse || s.Mode != agent.MountModeCopy
	}
	progress.Report(fmt.Sprintf("Mounting %d bucket(s) on the nodes", len(mounts)))
	ci, err := info(rec)
	if err != nil {
		return err
	}
	return m.eachAgent(ctx, rec, ci, func(ctx context.Context, rank int, c *agent.Client) error {
		if fuse {
			capa, err := c.MountCapability(ctx)
			if err != nil {
				return fmt.Errorf("node %d of %q: %w", rank, rec.Name, err)
			}
			if !capa.CanMount {
				return fmt.Errorf("node %d of %q cannot mount buckets (%s): use `mode: COPY`, or infra whose nodes have FUSE", rank, rec.Name, capa.Reason)
			}
		}
		if _, err := c.Mount(ctx, agent.MountsRequest{Mounts: mounts}); err != nil {
			return fmt.Errorf("mount buckets on node %d of %q: %w", rank, rec.Name, err)
		}
		return nil
	})
}

// unmountBuckets flushes and removes a cluster's mounts on its nodes before they stop or go: what a
// MOUNT_CACHED mount still holds reaches its bucket. A node that does not answer is passed over (its agent
// flushes its mounts when it is killed).
func (m *Manager) unmountBuckets(ctx context.Context, st store.Store, rec *store.Cluster) error {
	specs, err := recordedMounts(ctx, st, rec.Name)
	if err != nil || len(specs) == 0 || rec.Status != store.StatusUp {
		return err
	}
	ci, err := info(rec)
	if err != nil {
		return nil
	}
	return m.eachAgent(ctx, rec, ci, func(ctx context.Context, rank int, c *agent.Client) error {
		_, err := c.Unmount(ctx)
		var na *api.NodeNotAnsweringError
		if err != nil && !errors.As(err, &na) {
			return fmt.Errorf("flush and unmount the buckets of node %d of %q: %w", rank, rec.Name, err)
		}
		return nil
	})
}

// eachAgent runs fn with a client of every node's agent, in parallel.
func (m *Manager) eachAgent(ctx context.Context, rec *store.Cluster, ci *cloud.ClusterInfo, fn func(ctx context.Context, rank int, c *agent.Client) error) error {
	p, err := m.provider(rec)
	if err != nil {
		return err
	}
	tlsCfg, err := agenttls.ClientConfig([]byte(ci.CACert))
	if err != nil {
		return fmt.Errorf("cluster %q: %w", rec.Name, err)
	}
	return cloud.EachNode(ctx, len(ci.Nodes), func(ctx context.Context, rank int) error {
		tr, err := p.Transport(ctx, ci, rank)
		if err != nil {
			return fmt.Errorf("reach node %d of %q: %w", rank, rec.Name, err)
		}
		defer tr.Close()
		n := ci.Nodes[rank]
		c := agent.NewClient(n.AgentAddr, ci.Secret, tr.Dial, agent.WithTLS(tlsCfg), agent.WithNode(rec.Name, n.Rank),
			agent.WithTimeout(m.agentTimeout))
		defer c.Close()
		return fn(ctx, n.Rank, c)
	})
}
