package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/credentials"
)

// CheckInfra checks the credentials of the infra named (every infra when none) in e, and records the enabled
// set, as `stix check` does. The checks read stix's own files from the Manager's Home, whatever e.StixHome says.
// It returns the results and the enabled set after the check; the results also come with an error saying
// the set could not be recorded. With verify (`stix check -v`), each infra found enabled whose provider is a
// cloud.CredentialVerifier is asked to confirm its credentials with one read-only call, and is disabled, with
// the provider's answer as the reason, when it cannot.
func (m *Manager) CheckInfra(ctx context.Context, e credentials.Env, verify bool, infra ...string) ([]credentials.Result, []string, error) {
	e.StixHome = m.home
	results := credentials.Check(ctx, e, infra...)
	if verify {
		for i := range results {
			m.verifyCredentials(ctx, &results[i])
		}
	}
	st, err := m.store(ctx)
	if err != nil {
		return results, nil, fmt.Errorf("cache the enabled infra: %w", err)
	}
	if err := credentials.SaveEnabled(ctx, st, results, m.now()); err != nil {
		return results, nil, err
	}
	enabled, _, err := credentials.LoadEnabled(ctx, st)
	return results, enabled, err
}

// InfraStatus checks the credentials of every infra in e as CheckInfra does without verify, but records
// nothing: what `stix check` would find now (files and variables only, no provider is called), with the enabled
// set the last check recorded. The dashboard's infra page reads it on every load.
// Before any check is recorded the enabled set is empty (the first launch records one), not checked here: the
// page must not record what it shows.
func (m *Manager) InfraStatus(ctx context.Context, e credentials.Env) ([]credentials.Result, []string, error) {
	e.StixHome = m.home
	results := credentials.Check(ctx, e)
	if m.enabledInfra != nil {
		enabled, err := m.enabled(ctx)
		return results, enabled, err
	}
	st, err := m.store(ctx)
	if err != nil {
		return results, nil, err
	}
	enabled, _, err := credentials.LoadEnabled(ctx, st)
	return results, enabled, err
}

// EnabledInfra lists the infra the user enabled, lower-case: what `stix check` cached, or, before any check,
// what a check finds now.
func (m *Manager) EnabledInfra(ctx context.Context) ([]string, error) { return m.enabled(ctx) }

// verifyTimeout bounds the one call `stix check -v` makes to each provider.
const verifyTimeout = 30 * time.Second

// verifyCredentials asks r's provider, when it can, to confirm the credentials the offline check found, and
// disables r when they are rejected or cannot be confirmed.
func (m *Manager) verifyCredentials(ctx context.Context, r *credentials.Result) {
	if !r.Enabled {
		return
	}
	p, err := m.registry.Lookup(r.Infra)
	if err != nil {
		return // a cloud stix plans on but cannot provision yet: nothing to ask
	}
	v, ok := p.(cloud.CredentialVerifier)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	err = v.VerifyCredentials(ctx)
	if err == nil {
		return
	}
	var auth *cloud.AuthError
	if errors.As(err, &auth) {
		r.Enabled, r.Reason = false, fmt.Sprintf("the credentials found (%s) were rejected: %v", r.Detail, err)
	} else {
		r.Enabled, r.Reason = false, fmt.Sprintf("could not confirm the credentials found (%s): %v", r.Detail, err)
	}
}
