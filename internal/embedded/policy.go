package embedded

import (
	"context"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/config"
	"github.com/stix-run/stix/internal/policy"
	"github.com/stix-run/stix/internal/spec"
)

// admit applies the admin policy that the request's config names (none: the request is unchanged) to a launch,
// exec or dry run that has been read, before anything is planned or created. It returns the task to run and ctx
// carrying the config to use. For a launch, lo's autostop flags are folded into the task first, as SkyPilot
// does, so that the policy sees and decides the cluster's autostop; lo then keeps none of its own.
func (c *Client) admit(ctx context.Context, m *cluster.Manager, task *spec.Task, name string, ro policy.Options,
	lo *api.LaunchOptions) (*spec.Task, context.Context, error) {
	cfg := config.FromContext(ctx)
	p, err := policy.FromConfig(cfg)
	if p == nil || err != nil {
		return task, ctx, err
	}
	if ro.ClusterName != nil && *ro.ClusterName == "" {
		ro.ClusterName = nil
	}
	if lo != nil && (lo.IdleMinutes != nil || lo.Down) {
		a := &spec.AutostopConfig{Enabled: true, Down: lo.Down}
		if lo.IdleMinutes != nil {
			a.IdleMinutes = *lo.IdleMinutes
		}
		setAutostop(task.Resources, a)
		lo.IdleMinutes, lo.Down = nil, false
	}
	if cands, _ := task.Resources.Candidates(); len(cands) > 0 && cands[0].Autostop != nil && cands[0].Autostop.Enabled {
		ro.IdleMinutesToAutostop, ro.Down = &cands[0].Autostop.IdleMinutes, cands[0].Autostop.Down
	}
	user := m.UserOf(ctx)
	task, cfg, err = policy.Admit(ctx, p, policy.Input{Task: task, Config: cfg, Name: name, Options: &ro,
		User: &policy.User{ID: user, Name: user}})
	if err != nil {
		return nil, ctx, err
	}
	return task, config.NewContext(ctx, cfg), nil
}

// setAutostop sets r's autostop, and every candidate's.
func setAutostop(r *spec.Resources, a *spec.AutostopConfig) {
	r.Autostop = a
	for _, c := range append(append([]*spec.Resources{}, r.AnyOf...), r.Ordered...) {
		c.Autostop = a
	}
}
