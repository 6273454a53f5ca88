package cluster

import (
	"context"
	"fmt"

	"github.com/stix-run/stix/internal/cloud/credentials"
)

// CheckInfra checks the credentials of the infra named (every infra when none) in e, and records the enabled
// set, as `stix check` does. The checks read stix's own files from the Manager's Home, whatever e.StixHome says.
// It returns the results and the enabled set after the check; the results also come with an error saying
// the set could not be recorded.
func (m *Manager) CheckInfra(ctx context.Context, e credentials.Env, infra ...string) ([]credentials.Result, []string, error) {
	e.StixHome = m.home
	results := credentials.Check(ctx, e, infra...)
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

// EnabledInfra lists the infra the user enabled, lower-case: what `stix check` cached, or, before any check,
// what a check finds now.
func (m *Manager) EnabledInfra(ctx context.Context) ([]string, error) { return m.enabled(ctx) }
