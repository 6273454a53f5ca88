package dashboard

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/stix-run/stix/api"
)

// tokens lists the service-account tokens (admins: the API's own route answers a user 403).
func (h *Handler) tokens(w http.ResponseWriter, r *http.Request) {
	toks, err := h.opts.Backend.Tokens(r.Context())
	if err != nil {
		h.backendError(w, r, err, Prefix+"/clusters", "the clusters")
		return
	}
	slices.SortFunc(toks, func(a, b api.TokenInfo) int { return strings.Compare(a.Name, b.Name) })
	h.render(w, r, http.StatusOK, "tokens", page{Title: "Tokens", Nav: "tokens", Data: map[string]any{"Rows": toks}})
}

// newToken is the form that creates a token (its confirmation: nothing is created before it is sent). It asks
// the Backend for the tokens first, so that a user gets the API's 403 here as on the list.
func (h *Handler) newToken(w http.ResponseWriter, r *http.Request) {
	if _, err := h.opts.Backend.Tokens(r.Context()); err != nil {
		h.backendError(w, r, err, Prefix+"/clusters", "the clusters")
		return
	}
	h.render(w, r, http.StatusOK, "new_token", page{Title: "New token", Nav: "tokens",
		Data: map[string]any{"Role": api.RoleUser}})
}

// createToken creates the token through the API and shows it, once: it is not kept anywhere the dashboard
// could show it again.
func (h *Handler) createToken(w http.ResponseWriter, r *http.Request) {
	if !checkCSRF(r) {
		h.errorPage(w, r, http.StatusForbidden, "Refused: the form did not come from this dashboard, or it expired. "+
			"Reload the page and try again.")
		return
	}
	req := api.TokenRequest{Name: strings.TrimSpace(r.PostFormValue("name")), Role: r.PostFormValue("role")}
	form := map[string]any{"Name": req.Name, "Role": req.Role, "Days": r.PostFormValue("days")}
	fail := func(status int, msg string) {
		h.render(w, r, status, "new_token", page{Title: "New token", Nav: "tokens", Error: msg, Data: form})
	}
	if days := strings.TrimSpace(r.PostFormValue("days")); days != "" {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			fail(http.StatusBadRequest, fmt.Sprintf("Expires in days must be a whole number, 0 (never) or more; got %q. Nothing was created.", days))
			return
		}
		req.ExpiresInDays = n
	}
	created, err := h.opts.Backend.CreateToken(r.Context(), req)
	if err != nil {
		fail(statusOf(err), api.WireError(err).Message+" Nothing was created.")
		return
	}
	h.opts.Log.Info("dashboard action", "action", "create token", "target", created.Info.Name, "role", created.Info.Role)
	h.render(w, r, http.StatusCreated, "new_token", page{Title: "New token", Nav: "tokens",
		Flash: fmt.Sprintf("Token %s created (%s).", created.Info.Name, created.Info.Role), Data: map[string]any{"Created": created}})
}

// revokeToken is the action that revokes a token, after its confirmation page.
var revokeToken = action{path: "/tokens/{name}/revoke", verb: "Revoke", prepare: func(h *Handler, r *http.Request) (plan, error) {
	name := r.PathValue("name")
	toks, err := h.opts.Backend.Tokens(r.Context())
	if err != nil {
		return plan{}, err
	}
	i := slices.IndexFunc(toks, func(t api.TokenInfo) bool { return t.Name == name })
	if i < 0 {
		return plan{}, notFoundError(fmt.Sprintf("There is no token %q.", name))
	}
	p := plan{What: "token " + name, Back: Prefix + "/tokens",
		Warning: "The token stops working at once: every CLI and dashboard session using it is refused.",
		Do:      func() error { return h.opts.Backend.RevokeToken(r.Context(), name) }}
	if toks[i].Revoked != nil {
		p.Refusal = fmt.Sprintf("Token %s is already revoked.", name)
	}
	return p, nil
}}
