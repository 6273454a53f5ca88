package dashboard

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/stix-run/stix/api"
)

// config shows the server's config, read-only, secret values hidden by the Backend (admins only).
func (h *Handler) config(w http.ResponseWriter, r *http.Request) {
	cfg, err := h.opts.Backend.Config(r.Context())
	if err != nil {
		h.backendError(w, r, err, Prefix+"/clusters", "the clusters")
		return
	}
	text := ""
	if len(cfg) > 0 {
		b, err := yaml.Marshal(cfg)
		if err != nil {
			h.errorPage(w, r, http.StatusInternalServerError, fmt.Sprintf("The config cannot be shown: %v.", err))
			return
		}
		text = string(b)
	}
	h.render(w, r, http.StatusOK, "config", page{Title: "Config", Nav: "config", Data: map[string]any{"YAML": text}})
}

// workspaceRow is one workspace as the config's workspaces: defines it.
type workspaceRow struct {
	Name         string
	Private      bool
	AllowedUsers []string
	Disabled     []string // infra disabled there
}

// workspaces lists the workspaces the server's config defines (admins only, as the config).
func (h *Handler) workspaces(w http.ResponseWriter, r *http.Request) {
	cfg, err := h.opts.Backend.Config(r.Context())
	if err != nil {
		h.backendError(w, r, err, Prefix+"/clusters", "the clusters")
		return
	}
	defs, _ := cfg["workspaces"].(map[string]any)
	rows := []workspaceRow{}
	if _, ok := defs[api.DefaultWorkspace]; !ok {
		rows = append(rows, workspaceRow{Name: api.DefaultWorkspace})
	}
	for name, v := range defs {
		def, _ := v.(map[string]any)
		row := workspaceRow{Name: name}
		row.Private, _ = def["private"].(bool)
		if users, ok := def["allowed_users"].([]any); ok {
			for _, u := range users {
				row.AllowedUsers = append(row.AllowedUsers, fmt.Sprint(u))
			}
		}
		for infra, sub := range def {
			if m, ok := sub.(map[string]any); ok && m["disabled"] == true {
				row.Disabled = append(row.Disabled, strings.ToLower(infra))
			}
		}
		slices.Sort(row.Disabled)
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(a, b workspaceRow) int { return strings.Compare(a.Name, b.Name) })
	h.render(w, r, http.StatusOK, "workspaces", page{Title: "Workspaces", Nav: "workspaces", Data: map[string]any{"Rows": rows}})
}

// userRow is a user the server knows: by their tokens and by the requests they made.
type userRow struct {
	Name     string
	Roles    []string // of their active tokens
	Tokens   int      // active
	Requests int
	LastSeen time.Time // their last request, or their tokens' last use
}

// users lists who uses the server (admins only: the token list is the API's admin route): every name with a
// token, and every user with a request on record.
func (h *Handler) users(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	toks, err := h.opts.Backend.Tokens(ctx)
	if err != nil {
		h.backendError(w, r, err, Prefix+"/clusters", "the clusters")
		return
	}
	reqs, err := h.opts.Backend.RequestUsers(ctx)
	if err != nil {
		h.backendError(w, r, err, Prefix+"/clusters", "the clusters")
		return
	}
	by := map[string]*userRow{}
	get := func(name string) *userRow {
		u, ok := by[name]
		if !ok {
			u = &userRow{Name: name}
			by[name] = u
		}
		return u
	}
	for _, t := range toks {
		if t.Revoked != nil {
			continue
		}
		u := get(t.Name)
		u.Tokens++
		if !slices.Contains(u.Roles, t.Role) {
			u.Roles = append(u.Roles, t.Role)
		}
		if t.LastUsed != nil && t.LastUsed.After(u.LastSeen) {
			u.LastSeen = *t.LastUsed
		}
	}
	for _, q := range reqs {
		u := get(q.User)
		u.Requests += q.Count
		if q.Latest.After(u.LastSeen) {
			u.LastSeen = q.Latest
		}
	}
	rows := make([]*userRow, 0, len(by))
	for _, u := range by {
		slices.Sort(u.Roles)
		rows = append(rows, u)
	}
	slices.SortFunc(rows, func(a, b *userRow) int { return cmp.Compare(a.Name, b.Name) })
	h.render(w, r, http.StatusOK, "users", page{Title: "Users", Nav: "users", Data: map[string]any{"Rows": rows}})
}
