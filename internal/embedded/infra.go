package embedded

import (
	"context"
	"errors"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cloud/credentials"
	"github.com/stix-run/stix/internal/cloud/sshpool"
	"github.com/stix-run/stix/internal/cluster"
)

var errNoCatalog = errors.New("no catalog configured: set STIX_CATALOG_DIR or let stix fetch SkyPilot's catalog")

// Check checks credentials (confirming them with the providers when verify is set) and records the enabled
// infra.
func (c *Client) Check(ctx context.Context, infra []string, verify bool) (*api.Operation[api.CheckResult], error) {
	return run(ctx, c, func(ctx context.Context, m *cluster.Manager, _ func(api.Event)) (api.CheckResult, error) {
		e := credentials.Env{Home: c.opts.UserHome, Getenv: c.opts.Getenv, SystemRoot: c.opts.SystemRoot}
		results, enabled, err := m.CheckInfra(ctx, e, verify, infra...)
		return checkResult(results, enabled, err), nil
	})
}

// InfraStatus is what Check would find now, recording nothing and calling no provider, with the enabled set
// the last check recorded (SaveError: why it could not be read).
func (c *Client) InfraStatus(ctx context.Context) (api.CheckResult, error) {
	m, err := c.manager()
	if err != nil {
		return api.CheckResult{}, err
	}
	e := credentials.Env{Home: c.opts.UserHome, Getenv: c.opts.Getenv, SystemRoot: c.opts.SystemRoot}
	results, enabled, err := m.InfraStatus(ctx, e)
	return checkResult(results, enabled, err), nil
}

func checkResult(results []credentials.Result, enabled []string, err error) api.CheckResult {
	out := api.CheckResult{Enabled: enabled}
	if err != nil {
		out.SaveError = err.Error()
	}
	for _, r := range results {
		out.Results = append(out.Results, api.InfraCheck{Infra: r.Infra, Enabled: r.Enabled, Reason: r.Reason,
			Detail: r.Detail, Contexts: r.Contexts})
	}
	return out
}

// SSHUp sets up the hosts of SSH node pools; each host's outcome is an event as it comes.
func (c *Client) SSHUp(ctx context.Context, req api.SSHPoolRequest) (*api.Operation[[]api.SSHHostResult], error) {
	return c.sshPools(ctx, req, (*sshpool.Provider).Up)
}

// SSHDown cleans up the hosts of SSH node pools set up by SSHUp.
func (c *Client) SSHDown(ctx context.Context, req api.SSHPoolRequest) (*api.Operation[[]api.SSHHostResult], error) {
	return c.sshPools(ctx, req, (*sshpool.Provider).Down)
}

type poolAction func(p *sshpool.Provider, ctx context.Context, pool string, report func(sshpool.HostResult)) ([]sshpool.HostResult, error)

func (c *Client) sshPools(ctx context.Context, req api.SSHPoolRequest, act poolAction) (*api.Operation[[]api.SSHHostResult], error) {
	p, err := sshpool.ForHome(c.opts.Core.Home, req.File)
	if err != nil {
		return nil, err
	}
	return api.Go(ctx, "", func(ctx context.Context, emit func(api.Event)) ([]api.SSHHostResult, error) {
		results, err := act(p, ctx, req.Pool, func(r sshpool.HostResult) {
			h := hostResult(r)
			emit(api.Event{Type: api.EventHost, Host: &h})
		})
		if err != nil {
			return nil, err
		}
		out := make([]api.SSHHostResult, len(results))
		for i, r := range results {
			out[i] = hostResult(r)
		}
		return out, nil
	}), nil
}

func hostResult(r sshpool.HostResult) api.SSHHostResult {
	h := api.SSHHostResult{Pool: r.Pool, Host: r.Host.Name}
	if r.Err != nil {
		h.Error = r.Err.Error()
	} else {
		h.Shape = sshpool.Shape(r.Resources)
	}
	return h
}
