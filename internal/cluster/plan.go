package cluster

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/credentials"
	"github.com/stix-run/stix/internal/optimizer"
	"github.com/stix-run/stix/internal/spec"
)

// view is what one planning sees: the priced clouds enabled (from the catalog) and the free infra stix can
// provision, and whether unnamed tasks may use the free ones.
type view struct {
	priced  []optimizer.Source
	free    []optimizer.Source
	useFree bool
	cat     *catalog.Catalog // nil when no priced cloud is enabled
}

// problem is the optimizer's input for one task with a block list.
func (v *view) problem(t optimizer.Task, blocked []cloud.Scope) optimizer.Problem {
	return optimizer.Problem{Tasks: []optimizer.Task{t}, Sources: v.priced, Free: v.free, UseFree: v.useFree, Blocked: blocked}
}

func (v *view) task(t *spec.Task) optimizer.Task {
	if v.cat == nil {
		return optimizer.FromSpec(t, nil)
	}
	return optimizer.FromSpec(t, v.cat)
}

// view gathers the infra a task may be planned on. A task that names an infra that is neither enabled nor
// provisionable here is refused with how to enable it.
func (m *Manager) view(ctx context.Context, t *spec.Task) (*view, error) {
	enabled, err := m.enabled(ctx)
	if err != nil {
		return nil, err
	}
	allowed, err := newAllowance(ctx)
	if err != nil {
		return nil, err
	}
	enabled = slices.DeleteFunc(slices.Clone(enabled), func(n string) bool { return !allowed.ok(n) })
	cands, _ := t.Resources.Candidates()
	for _, c := range cands {
		name := strings.ToLower(c.Infra.Cloud)
		if err := allowed.check(name); err != nil {
			return nil, err
		}
		if name == "" || slices.Contains(enabled, name) {
			continue
		}
		if _, err := m.registry.Lookup(name); err == nil {
			continue
		}
		return nil, fmt.Errorf("infra %s is not enabled: run `stix check %s` to see what it needs (credentials, config), then launch again", name, name)
	}
	v := &view{}
	// Only the priced clouds the task may land on need their offers: none when every candidate names free or
	// owned infra, so that such a launch works offline with nothing cached.
	anyCloud := len(cands) == 0 || slices.ContainsFunc(cands, func(c *spec.Resources) bool { return c.Infra.Cloud == "" })
	named := func(name string) bool {
		return slices.ContainsFunc(cands, func(c *spec.Resources) bool { return strings.EqualFold(c.Infra.Cloud, name) })
	}
	var priced []string // from the catalog
	for _, d := range m.registry.Descriptors() {
		if !allowed.ok(d.Name) || d.Catalog {
			continue
		}
		p, err := m.registry.Lookup(d.Name)
		if err != nil {
			continue
		}
		switch {
		case d.Kind == cloud.Priced:
			if slices.Contains(enabled, d.Name) && (anyCloud || named(d.Name)) {
				v.priced = append(v.priced, snapshot(ctx, p))
			}
		case d.Implicit || named(d.Name):
			// Implicit infra (this machine) serves tasks that name no infra; other free and owned infra (docker,
			// ssh pools) only those that name it, so that `stix launch 'cmd'` never lands in a container by
			// accident of a tie.
			v.free = append(v.free, snapshot(ctx, p))
		}
	}
	for _, name := range enabled {
		if d, ok := m.registry.Describe(name); (!ok || d.Catalog && d.Kind == cloud.Priced) && (anyCloud || named(name)) {
			priced = append(priced, name)
		}
	}
	v.useFree = credentials.FreeAllowed(enabled)
	if len(priced) == 0 {
		return v, allowed.none(len(v.free))
	}
	if v.cat, err = m.catalog(ctx, priced); err != nil {
		return nil, err
	}
	for _, c := range v.cat.Clouds() {
		v.priced = append(v.priced, c)
	}
	return v, nil
}

// Plan is `launch --dryrun`: where the task would run and what was considered, with no side effect.
func (m *Manager) Plan(ctx context.Context, t *spec.Task) (*api.Plan, error) {
	v, err := m.view(ctx, t)
	if err != nil {
		return nil, err
	}
	ot := v.task(t)
	plan, ex, err := optimizer.Optimize(v.problem(ot, nil))
	if err != nil {
		return nil, err
	}
	out := &api.Plan{Header: optimizer.TableHeader(plan.Objective)}
	for i, a := range plan.Tasks {
		pt := api.PlanTask{Name: a.Task, Nodes: a.Nodes, Infra: catalog.PlaceName(a.Offer.Cloud, a.Offer.Region, a.Offer.Zone),
			InstanceType: a.Offer.InstanceType, HourlyCost: a.Cost}
		for _, r := range ex.Tasks[i].Rows {
			pt.Rows = append(pt.Rows, api.PlanRow{Cells: r.Cells(plan.Objective), Chosen: r.Chosen,
				Cloud: r.Cloud, Region: r.Region, Zone: r.Zone, InstanceType: r.InstanceType,
				Accelerators: r.AcceleratorCounts, UseSpot: r.Spot, HourlyCost: r.Cost / optimizer.HoursPerTask,
				NumNodes: r.Nodes})
		}
		out.Tasks = append(out.Tasks, pt)
	}
	return out, nil
}

// enabled lists the infra the user enabled: what `stix check` cached, or, before any check, what a check finds
// now (and caches), as SkyPilot does on first use.
func (m *Manager) enabled(ctx context.Context) ([]string, error) {
	get := m.enabledInfra
	if get == nil {
		get = m.checkedInfra
	}
	names, err := get(ctx)
	if err != nil {
		return nil, fmt.Errorf("find the enabled infra: %w", err)
	}
	for i := range names {
		names[i] = strings.ToLower(names[i])
	}
	return names, nil
}

// catalog loads the catalog of the given clouds through the configured source.
func (m *Manager) catalog(ctx context.Context, clouds []string) (*catalog.Catalog, error) {
	if m.catalogSource == nil {
		return nil, fmt.Errorf("no catalog configured for %s", strings.Join(clouds, ", "))
	}
	src, err := m.catalogSource()
	if err != nil {
		return nil, err
	}
	have, err := src.Clouds(ctx)
	if err != nil {
		return nil, err
	}
	var want []string
	for _, c := range clouds {
		if slices.Contains(have, c) {
			want = append(want, c)
		}
	}
	return catalog.Load(ctx, src, want...)
}

func (m *Manager) checkedInfra(ctx context.Context) ([]string, error) {
	st, err := m.store(ctx)
	if err != nil {
		return nil, err
	}
	names, ok, err := credentials.LoadEnabled(ctx, st)
	if err != nil || ok {
		return names, err
	}
	home, _ := os.UserHomeDir()
	results := credentials.Check(ctx, credentials.Env{Home: home, StixHome: m.home, Getenv: os.Getenv})
	if err := credentials.SaveEnabled(ctx, st, results, m.now()); err != nil {
		return nil, err
	}
	return credentials.Enabled(results), nil
}
