package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/atomicfile"
	"github.com/stix-run/stix/internal/auth"
)

// InitialTokenFile is the file under the server's directory (0600) where a server that requires authentication
// writes the admin token it creates when no admin token exists: the first admin's way in.
const InitialTokenFile = "initial-admin-token"

// openAuth opens the token table and the authenticator of opts.Auth; when authentication is required and no
// admin token exists, it creates one and writes it to InitialTokenFile.
func (s *Server) openAuth(ctx context.Context) error {
	tokens, err := auth.OpenTokens(ctx, s.state, s.opts.Dir)
	if err != nil {
		return err
	}
	if len(tokens.NotImported) > 0 {
		s.log.Warn("tokens of this server's auth.db not imported into the state database: a token of the same name is "+
			"there already (another server's); they no longer authenticate: create new ones", "names", tokens.NotImported,
			"file", filepath.Join(s.opts.Dir, auth.LegacyTokensFile+".imported"))
	}
	a, err := auth.NewAuthenticator(s.opts.Auth, tokens)
	if err != nil {
		return err
	}
	s.tokens, s.authn = tokens, a
	if !a.Required() {
		return nil
	}
	ok, err := tokens.HasAdmin(ctx)
	if err != nil || ok {
		return err
	}
	for i := 1; ; i++ {
		name := "initial-admin"
		if i > 1 {
			name = fmt.Sprintf("initial-admin-%d", i)
		}
		tok, _, err := tokens.Create(ctx, name, auth.RoleAdmin, 0, "stix api start")
		var e *api.Error
		if errors.As(err, &e) && e.Code == api.CodeConflict {
			continue
		}
		if err != nil {
			return err
		}
		path := filepath.Join(s.opts.Dir, InitialTokenFile)
		if err := atomicfile.Write(path, []byte(tok+"\n"), 0o600); err != nil {
			return err
		}
		s.log.Warn("no admin token existed: created one; log in with it, then create tokens for the users and revoke it",
			"name", name, "file", path)
		return nil
	}
}

// withAuth identifies the caller of every request (see auth.Authenticator) and puts the identity in the
// request's context; a caller that fails is answered 401 here. /api/health answers everyone.
func (s *Server) withAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := s.authn.Authenticate(r.Context(), r)
		if err == nil {
			r = r.WithContext(auth.With(r.Context(), id))
		} else if r.URL.Path != "/api/health" && !isDashboard(r.URL.Path) { // the dashboard has its login page
			// The reason, never the credential.
			s.log.Info("http", "method", r.Method, "path", r.URL.Path, "status", http.StatusUnauthorized,
				"remote", r.RemoteAddr, "err", api.WireError(err).Message)
			w.Header().Set("WWW-Authenticate", `Bearer realm="stix", Basic realm="stix"`)
			writeError(w, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// identity is the caller of the request whose context ctx is.
func identity(ctx context.Context) auth.Identity {
	id, _ := auth.From(ctx)
	return id
}

// mayActOn returns a 403 error unless the caller is an admin or owner is the caller.
func mayActOn(ctx context.Context, what, owner string) error {
	id := identity(ctx)
	if id.IsAdmin() || owner == id.Name {
		return nil
	}
	return auth.Forbidden("%s belongs to user %q; %q may act only on their own (an admin may act on all)", what, owner, id.Name)
}

// checkCluster returns a 403 error when the cluster exists and the caller may not act on it; a cluster that does
// not exist is the core's to report (or, for launch, to create).
func (s *Server) checkCluster(ctx context.Context, name string) error {
	if name == "" || identity(ctx).IsAdmin() {
		return nil
	}
	cs, err := s.opts.Client.Status(ctx, []string{name}, false)
	var nf *api.ClusterNotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.Name == name {
			if err := mayActOn(ctx, fmt.Sprintf("cluster %q", name), c.User); err != nil {
				return err
			}
			return s.workspaceAccess(ctx, c)
		}
	}
	return nil
}

// workspaceAccess returns a 403 error when a user may not use the workspace of cluster c (a private one they are
// not, or no longer, allowed in); admins may use every workspace.
func (s *Server) workspaceAccess(ctx context.Context, c api.Cluster) error {
	if s.opts.WorkspaceAccess == nil || identity(ctx).IsAdmin() {
		return nil
	}
	ws := c.Workspace
	if ws == "" {
		ws = api.DefaultWorkspace
	}
	err := s.opts.WorkspaceAccess(ctx, ws)
	var e *api.Error
	if errors.As(err, &e) { // the 403 says which cluster it is about
		named := *e
		named.Message = fmt.Sprintf("cluster %q is in workspace %q: %s", c.Name, ws, e.Message)
		return &named
	}
	return err
}

// withClusterCheck guards a route whose path names a cluster.
func (s *Server) withClusterCheck(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.checkCluster(r.Context(), r.PathValue("cluster")); err != nil {
			writeError(w, err)
			return
		}
		h(w, r)
	}
}

// allUsers reads ?all_users=true, which only an admin may ask.
func allUsers(r *http.Request) (bool, error) {
	if !boolParam(r, "all_users") {
		return false, nil
	}
	if id := identity(r.Context()); !id.IsAdmin() {
		return false, auth.Forbidden("only an admin sees every user's clusters and requests; %q is a %s", id.Name, id.Role)
	}
	return true, nil
}

// ownClusters keeps the caller's clusters in the workspaces they may use, or all with ?all_users=true (admins).
func (s *Server) ownClusters(ctx context.Context, r *http.Request, cs []api.Cluster) ([]api.Cluster, error) {
	all, err := allUsers(r)
	if err != nil {
		return nil, err
	}
	return s.visibleClusters(ctx, cs, all), nil
}

// visibleClusters keeps the caller's clusters in the workspaces they may use, or all of cs when all is set.
func (s *Server) visibleClusters(ctx context.Context, cs []api.Cluster, all bool) []api.Cluster {
	if all {
		return cs
	}
	me := identity(ctx).Name
	out := []api.Cluster{}
	for _, c := range cs {
		if c.User == me && s.workspaceAccess(ctx, c) == nil {
			out = append(out, c)
		}
	}
	return out
}

// ownNames keeps the names of the caller's clusters in the workspaces they may use, or all with
// ?all_users=true (admins). A cluster named exactly (not by a glob) is kept for an admin whoever owns it, and
// is a 403 for another user (or for its owner, when they may no longer use its workspace).
func (s *Server) ownNames(ctx context.Context, r *http.Request, names []string) ([]string, error) {
	all, err := allUsers(r)
	if err != nil || all || len(names) == 0 {
		return names, err
	}
	cs, err := s.opts.Client.Status(ctx, names, false)
	if err != nil {
		return nil, err
	}
	me, exact := identity(ctx), r.URL.Query()["pattern"]
	out := []string{}
	for _, c := range cs {
		switch {
		case c.User == me.Name && s.workspaceAccess(ctx, c) == nil:
		case !slices.Contains(exact, c.Name):
			continue
		default:
			if err := mayActOn(ctx, fmt.Sprintf("cluster %q", c.Name), c.User); err != nil {
				return nil, err
			}
			if err := s.workspaceAccess(ctx, c); err != nil {
				return nil, err
			}
		}
		out = append(out, c.Name)
	}
	return out, nil
}

// checkRequest returns a 403 error unless the caller may see and cancel request q.
func checkRequest(ctx context.Context, q api.Request) error {
	return mayActOn(ctx, "request "+q.ID, q.User)
}

// adminOnly guards the routes that manage the server itself.
func adminOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if id := identity(r.Context()); !id.IsAdmin() {
			writeError(w, auth.Forbidden("%s %s is for admins; %q is a %s", r.Method, r.URL.Path, id.Name, id.Role))
			return
		}
		h(w, r)
	}
}

// registerTokens adds the service-account token routes (admins only).
func (s *Server) registerTokens() {
	s.handle("POST /api/v1/tokens", adminOnly(func(w http.ResponseWriter, r *http.Request) {
		var b api.TokenRequest
		if err := decode(w, r, &b); err != nil {
			writeError(w, err)
			return
		}
		if b.Role == "" {
			b.Role = api.RoleUser
		}
		if b.ExpiresInDays < 0 {
			writeError(w, badRequest("expires_in_days must be 0 (never) or more, got %d", b.ExpiresInDays))
			return
		}
		ttl := time.Duration(b.ExpiresInDays) * 24 * time.Hour
		tok, info, err := s.tokens.Create(r.Context(), b.Name, auth.Role(b.Role), ttl, identity(r.Context()).Name)
		if err != nil {
			writeError(w, err)
			return
		}
		s.log.Info("token created", "name", info.Name, "role", info.Role, "by", identity(r.Context()).Name)
		writeJSON(w, http.StatusCreated, api.CreatedToken{Token: tok, Info: tokenInfo(info)})
	}))
	s.handle("GET /api/v1/tokens", adminOnly(func(w http.ResponseWriter, r *http.Request) {
		answer(w, r, func(ctx context.Context, _ *http.Request) (any, error) {
			l, err := s.tokens.List(ctx)
			out := make([]api.TokenInfo, 0, len(l))
			for _, i := range l {
				out = append(out, tokenInfo(i))
			}
			return out, err
		})
	}))
	s.handle("DELETE /api/v1/tokens/{name}", adminOnly(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if err := s.tokens.Revoke(r.Context(), name); err != nil {
			writeError(w, err)
			return
		}
		// Every page checks a session's token again; ending its sessions here too leaves no row behind.
		n, err := s.sessions.EndTokenSessions(r.Context(), name)
		if err != nil {
			s.log.Warn("token revoked; its dashboard sessions end on their next page", "name", name, "err", err.Error())
		}
		s.log.Info("token revoked", "name", name, "by", identity(r.Context()).Name, "dashboard_sessions", n)
		writeJSON(w, http.StatusOK, api.Done{})
	}))
}

func tokenInfo(i auth.TokenInfo) api.TokenInfo {
	return api.TokenInfo{Name: i.Name, Role: string(i.Role), Created: i.Created, Creator: i.Creator,
		Expires: i.Expires, Revoked: i.Revoked, LastUsed: i.LastUsed}
}

// ReadInitialToken returns the token a server that requires authentication wrote for its first admin in dir.
func ReadInitialToken(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, InitialTokenFile))
	return strings.TrimSpace(string(b)), err
}
