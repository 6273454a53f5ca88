package cluster

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/config"
)

// DefaultWorkspace is the workspace of a request that sets no active_workspace, as SkyPilot's.
const DefaultWorkspace = api.DefaultWorkspace

// workspace is a request's active workspace (active_workspace) as the workspaces: config defines it: the infra
// disabled there, and whether the caller may use it.
type workspace struct {
	name     string
	disabled []string // infra with disabled: true in the workspace
	origin   config.Origin
}

// activeWorkspace reads the request's active workspace. A workspace that is not defined (other than
// "default"), or a private one whose allowed_users leave out the caller the API server authenticated (admins
// may use every workspace), is an error. The CLI's embedded core has no authenticated caller: private
// workspaces do not restrict it.
func activeWorkspace(ctx context.Context) (workspace, error) {
	cfg := config.FromContext(ctx)
	w := workspace{name: DefaultWorkspace}
	if v, ok := cfg.Get("active_workspace"); ok {
		if s, _ := v.(string); s != "" {
			w.name = s
		}
	}
	all, _ := cfg.Get("workspaces")
	defs, _ := all.(map[string]any)
	def, ok := defs[w.name].(map[string]any)
	if !ok {
		if w.name == DefaultWorkspace {
			return w, nil
		}
		names := make([]string, 0, len(defs))
		for n := range defs {
			names = append(names, n)
		}
		sort.Strings(names)
		o, _ := cfg.Origin("active_workspace")
		return w, fmt.Errorf("active_workspace %q (set at %s) is not defined in workspaces: (defined: %s); set active_workspace to "+
			"one of them, or ask an admin to define it in the API server's config", w.name, o, orNone(names))
	}
	w.origin, _ = cfg.Origin("workspaces." + w.name)
	if id, ok := auth.From(ctx); ok {
		if err := WorkspaceAccess(cfg, id, w.name); err != nil {
			return w, err
		}
	}
	for infra, v := range def {
		if m, ok := v.(map[string]any); ok && m["disabled"] == true {
			w.disabled = append(w.disabled, strings.ToLower(infra))
		}
	}
	sort.Strings(w.disabled)
	return w, nil
}

// WorkspaceAccess returns a 403 error (auth.Forbidden) unless id may use the workspace name as cfg's
// workspaces: define it: a private workspace is for its allowed_users and admins; any other workspace, defined
// or not, is open. The API server asks it before it shows or acts on a cluster of that workspace.
func WorkspaceAccess(cfg *config.Config, id auth.Identity, name string) error {
	all, _ := cfg.Get("workspaces")
	defs, _ := all.(map[string]any)
	def, _ := defs[name].(map[string]any)
	if private, _ := def["private"].(bool); !private || id.IsAdmin() || slices.Contains(anyStrings(def["allowed_users"]), id.Name) {
		return nil
	}
	o, _ := cfg.Origin("workspaces." + name)
	return auth.Forbidden("workspace %q is private and %q is not in its allowed_users (set at %s); ask an admin to add you, "+
		"or use another workspace (active_workspace)", name, id.Name, o)
}

func anyStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func orNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}
