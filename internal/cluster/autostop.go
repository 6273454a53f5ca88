package cluster

import (
	"context"
	"fmt"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/spec"
	"github.com/stix-run/stix/internal/store"
)

// applyAutostop sets the cluster's autostop from the launch flags (-i, --down) or else the task's
// `resources.autostop`, tells the head agent and records it. Without either, the cluster keeps its setting.
func (m *Manager) applyAutostop(ctx context.Context, st store.Store, rec *store.Cluster, task *spec.Task, opts api.LaunchOptions) error {
	want, ok := desiredAutostop(task, opts)
	if !ok || want == rec.Autostop {
		return nil
	}
	if err := m.setAutostop(ctx, rec, want); err != nil {
		return err
	}
	return st.PutCluster(ctx, rec)
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
	p, err := m.provider(rec)
	if err != nil {
		return err
	}
	if err := refuseAutostop(p, want); err != nil {
		return err
	}
	if sp, ok := p.(cloud.SelfStopPreparer); ok && want.IdleMinutes >= 0 {
		// Before the head is told: a head that fires at once must find the cloud ready.
		if err := sp.PrepareSelfStop(ctx, cloud.ClusterRef{Name: rec.Name, Handle: rec.Handle}, want.Down); err != nil {
			return fmt.Errorf("set autostop on %q: %w", rec.Name, err)
		}
	}
	var requests []agent.HTTPRequest
	if sr, ok := p.(cloud.SelfStopRequester); ok && want.IdleMinutes >= 0 {
		ref := cloud.ClusterRef{Name: rec.Name}
		if ci, err := info(rec); err == nil {
			ref.Handle = ci.Handle
		}
		rs, err := sr.SelfStopRequests(ctx, ref, want.Down)
		if err != nil {
			return fmt.Errorf("set autostop on %q: %w", rec.Name, err)
		}
		for _, r := range rs {
			requests = append(requests, agent.HTTPRequest{Method: r.Method, URL: r.URL, Header: r.Header, Body: r.Body,
				TokenURL: r.TokenURL, RootCAs: r.RootCAs})
		}
	}
	c, closeFn, err := m.head(ctx, rec)
	if err != nil {
		return err
	}
	defer closeFn()
	rec.Autostop = want
	cfg := m.autostopConfig(rec)
	req := agent.AutostopRequest{IdleMinutes: cfg.IdleMinutes, Down: cfg.Down, Exit: cfg.Exit, Requests: requests}
	if want.IdleMinutes < 0 {
		req.Cancel = true
	}
	if _, err := c.SetAutostop(ctx, req); err != nil {
		return fmt.Errorf("set autostop on %q: %w", rec.Name, err)
	}
	return nil
}

// AutostopUnsupportedError refuses autostop (-i, --down, `resources.autostop`) on infra whose clusters cannot
// stop themselves (a provider that is no cloud.SelfStopper).
type AutostopUnsupportedError struct {
	Infra string
	// DownOnly says that the infra can tear its clusters down itself but cannot stop them (Kubernetes: pods
	// cannot be started again), so only autodown is offered.
	DownOnly bool
}

func (e *AutostopUnsupportedError) Error() string {
	if e.DownOnly {
		return fmt.Sprintf("autostop without --down is not supported on %s: its clusters cannot be stopped and "+
			"started again; use autodown (-i N --down, or resources.autostop with down: true)", catalog.DisplayName(e.Infra))
	}
	return fmt.Sprintf("autostop is not supported on %s: its nodes cannot stop or tear down themselves; "+
		"launch without -i/--down (and without resources.autostop), and stop the cluster with `stix stop` or "+
		"`stix down`", catalog.DisplayName(e.Infra))
}

// refuseAutostop says why want cannot be set on clusters of p, or nil. Turning autostop off is always allowed.
// A plain autostop also needs the provider to start stopped clusters again (cloud.Stopper).
func refuseAutostop(p cloud.Provider, want store.Autostop) error {
	if want.IdleMinutes < 0 {
		return nil
	}
	if _, ok := p.(cloud.SelfStopper); !ok {
		return &AutostopUnsupportedError{Infra: p.Name()}
	}
	if _, ok := p.(cloud.Stopper); !ok && !want.Down {
		return &AutostopUnsupportedError{Infra: p.Name(), DownOnly: true}
	}
	return nil
}

// refuseAutostopOn is refuseAutostop for a launch about to provision on infra: a refusal is scoped to that
// infra, so that failover tries the next candidate, and nothing is made where autostop cannot work.
func (m *Manager) refuseAutostopOn(infra string, task *spec.Task, opts api.LaunchOptions) error {
	want, ok := desiredAutostop(task, opts)
	if !ok {
		return nil
	}
	p, err := m.registry.Lookup(infra)
	if err != nil {
		return nil // provisionOn says that stix cannot provision there
	}
	if err := refuseAutostop(p, want); err != nil {
		return &cloud.InvalidConfigError{Place: cloud.Place{Cloud: p.Name()}, Err: err}
	}
	return nil
}

// autostopConfig is the head agent's autostop setting for the cluster: the record's, carried out the way the
// cluster's provider says (cloud.SelfStopper). A provider without the capability gets no Exit, so the head
// never fires; setAutostop refuses to turn it on there.
func (m *Manager) autostopConfig(rec *store.Cluster) *agent.AutostopConfig {
	cfg := &agent.AutostopConfig{IdleMinutes: rec.Autostop.IdleMinutes, Down: rec.Autostop.Down}
	if p, err := m.provider(rec); err == nil {
		if ss, ok := p.(cloud.SelfStopper); ok {
			cfg.Exit = agent.NodeExit(ss.SelfStopExit())
		}
	}
	return cfg
}

// finishAutodown completes what nodes cannot do themselves: refresh calls it for a cluster whose nodes are all
// stopped. When the head left the mark "down", the cluster is torn down (containers removed, hosts released)
// and forgotten, and gone is true. A failed teardown leaves the cluster STOPPED with a note saying what to do.
func (m *Manager) finishAutodown(ctx context.Context, st store.Store, rec *store.Cluster, p cloud.Provider, ref cloud.ClusterRef) (gone bool, note string) {
	ss, ok := p.(cloud.SelfStopper)
	if !ok {
		return false, ""
	}
	ci, err := info(rec)
	if err != nil {
		return false, ""
	}
	mark, err := ss.SelfStopped(ctx, ci)
	if err != nil {
		return false, fmt.Sprintf("could not read its autostop mark: %v", err)
	}
	if mark != cloud.SelfStopDown {
		return false, ""
	}
	if err := p.Terminate(ctx, ref); err != nil {
		return false, fmt.Sprintf("autodown stopped its nodes, and tearing them down failed: %v: run `stix down %s`", err, rec.Name)
	}
	// As after `stix down`: its buckets with `persistent: false` go with it. One that cannot be deleted now
	// keeps its record, so `stix storage ls` still shows it and `stix storage delete` removes it.
	if err, _ := m.forgetCluster(ctx, st, rec.Name); err != nil {
		return false, fmt.Sprintf("autodown tore it down, and forgetting it failed: %v", err)
	}
	return true, ""
}

// settleAutostop brings the record of a cluster that may have stopped itself up to date before a launch reuses
// it (the cluster's lock is held): an UP cluster with autostop set is asked of its provider, as `status -r` would,
// so that a launch restarts an autostopped cluster, and makes a new one where autodown took it away.
func (m *Manager) settleAutostop(ctx context.Context, st store.Store, rec *store.Cluster) (*store.Cluster, error) {
	if rec.Status != store.StatusUp || rec.Autostop.IdleMinutes < 0 {
		return rec, nil
	}
	if got, _ := m.refreshLocked(ctx, st, rec); got != nil {
		return got, nil
	}
	return st.GetCluster(ctx, rec.Name) // gone: the launch makes it anew
}
