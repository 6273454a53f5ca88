package cluster

import (
	"context"
	"fmt"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/spec"
	"github.com/stix-run/stix/internal/store"
)

// applyAutostop sets the cluster's autostop from the launch flags (-i, --down) or else the task's
// `resources.autostop`, and tells the head agent. Without either, the cluster keeps its setting.
func (m *Manager) applyAutostop(ctx context.Context, rec *store.Cluster, task *spec.Task, opts api.LaunchOptions) error {
	want, ok := desiredAutostop(task, opts)
	if !ok || want == rec.Autostop {
		return nil
	}
	return m.setAutostop(ctx, rec, want)
}

func desiredAutostop(task *spec.Task, opts api.LaunchOptions) (store.Autostop, bool) {
	switch {
	case opts.IdleMinutes != nil:
		return store.Autostop{IdleMinutes: *opts.IdleMinutes, Down: opts.Down}, true
	case opts.Down:
		// --down alone: tear down as soon as the jobs are done.
		return store.Autostop{IdleMinutes: 0, Down: true}, true
	}
	if a := firstCandidate(task).Autostop; a != nil {
		if !a.Enabled {
			return store.Autostop{IdleMinutes: store.AutostopOff}, true
		}
		return store.Autostop{IdleMinutes: a.IdleMinutes, Down: a.Down}, true
	}
	return store.Autostop{}, false
}

// Autostop changes an UP cluster's autostop setting (`stix autostop`).
func (m *Manager) Autostop(ctx context.Context, name string, opts api.AutostopOptions) error {
	st, err := m.store(ctx)
	if err != nil {
		return err
	}
	unlock, err := st.LockCluster(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := m.record(ctx, name)
	if err != nil {
		return err
	}
	want := store.Autostop{IdleMinutes: opts.IdleMinutes, Down: opts.Down}
	if opts.Cancel {
		want = store.Autostop{IdleMinutes: store.AutostopOff}
	}
	if err := m.setAutostop(ctx, rec, want); err != nil {
		return err
	}
	return st.PutCluster(ctx, rec)
}

func (m *Manager) setAutostop(ctx context.Context, rec *store.Cluster, want store.Autostop) error {
	c, closeFn, err := m.head(ctx, rec)
	if err != nil {
		return err
	}
	defer closeFn()
	rec.Autostop = want
	cfg := m.autostopConfig(rec)
	req := agent.AutostopRequest{IdleMinutes: cfg.IdleMinutes, Down: cfg.Down, Hook: cfg.Hook, DownHook: cfg.DownHook}
	if want.IdleMinutes < 0 {
		req.Cancel = true
	}
	if _, err := c.SetAutostop(ctx, req); err != nil {
		return fmt.Errorf("set autostop on %q: %w", rec.Name, err)
	}
	return nil
}

// autostopConfig is what the head agent runs when the cluster has been idle long enough: this stix binary,
// with this STIX_HOME, stopping or tearing down the cluster.
func (m *Manager) autostopConfig(rec *store.Cluster) *agent.AutostopConfig {
	hook := func(verb string) []string {
		return []string{"/usr/bin/env", "STIX_HOME=" + m.home, m.stixBin, verb, "-y", rec.Name}
	}
	return &agent.AutostopConfig{
		IdleMinutes: rec.Autostop.IdleMinutes, Down: rec.Autostop.Down,
		Hook: hook("stop"), DownHook: hook("down"),
	}
}
