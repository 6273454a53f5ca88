package stixcmd

import (
	"context"
	"fmt"

	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/config"
	"github.com/stix-run/stix/internal/server"
)

// Environment variables of authentication: the CLI's token (stix's, then SkyPilot's), and the header an SSO proxy
// names the user in (SkyPilot's), which turns the proxy on.
const (
	EnvToken         = "STIX_SERVICE_ACCOUNT_TOKEN"
	EnvSkyPilotToken = "SKYPILOT_SERVICE_ACCOUNT_TOKEN"
	EnvAuthHeader    = "SKYPILOT_AUTH_USER_HEADER"
)

// envToken is the token the environment gives the CLI; it wins over the one `stix api login` recorded.
func (s serverControl) envToken() string {
	for _, k := range []string{EnvToken, EnvSkyPilotToken} {
		if v := s.getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// authConfig reads how the API server of this machine authenticates: api_server.auth and rbac.default_role in
// the user's config (STIX_HOME/config.yaml, else ~/.sky/config.yaml), and SKYPILOT_AUTH_USER_HEADER.
func (s serverControl) authConfig() (auth.Config, error) {
	home, err := s.home()
	if err != nil {
		return auth.Config{}, err
	}
	cfg, err := config.Load(config.Inputs{StixHome: home, Home: s.getenv("HOME"), Getenv: s.getenv})
	if err != nil {
		return auth.Config{}, err
	}
	a := cfg.APIServerAuth(s.getenv("HOME"))
	if h := s.getenv(EnvAuthHeader); h != "" {
		a.ProxyHeader = h
	}
	trusted, err := auth.ParseTrustedProxies(a.TrustedProxies)
	if err != nil {
		return auth.Config{}, err
	}
	out := auth.Config{ServiceAccounts: a.ServiceAccounts, HtpasswdFile: a.HtpasswdFile, ProxyHeader: a.ProxyHeader,
		TrustedProxies: trusted, Admins: a.Admins, DefaultRole: auth.Role(a.DefaultRole)}
	if out.DefaultRole != "" {
		if _, err := auth.ParseRole(a.DefaultRole); err != nil {
			return auth.Config{}, fmt.Errorf("rbac.default_role: %w", err)
		}
	}
	return out, nil
}

// workspaceAccess says whether the API server's caller may use a workspace, as the server's config defines
// workspaces: read on each call, as the core reads it for each request, so that an edited allowed_users applies
// to status and to acting on clusters as it does to launches.
func (s serverControl) workspaceAccess(ctx context.Context, workspace string) error {
	id, ok := auth.From(ctx)
	if !ok {
		return nil
	}
	home, err := s.home()
	if err != nil {
		return err
	}
	cfg, err := config.Load(config.Inputs{StixHome: home, Home: s.getenv("HOME"), Getenv: s.getenv})
	if err != nil {
		return err
	}
	return cluster.WorkspaceAccess(cfg, id, workspace)
}

// serverConfig reads the API server's config as it stands, for the dashboard's config and workspaces pages.
func (s serverControl) serverConfig(context.Context) (map[string]any, error) {
	home, err := s.home()
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(config.Inputs{StixHome: home, Home: s.getenv("HOME"), Getenv: s.getenv})
	if err != nil {
		return nil, err
	}
	return cfg.ToMap(), nil
}

// gcOptions reads what the API server's garbage collection keeps: api_server.requests_retention_hours of the
// server's config (SkyPilot's key; the server's default when unset).
func (s serverControl) gcOptions() (server.GCOptions, error) {
	home, err := s.home()
	if err != nil {
		return server.GCOptions{}, err
	}
	cfg, err := config.Load(config.Inputs{StixHome: home, Home: s.getenv("HOME"), Getenv: s.getenv})
	if err != nil {
		return server.GCOptions{}, err
	}
	var gc server.GCOptions
	if d, ok := cfg.RequestsRetention(); ok {
		gc.RequestRetention = d
	}
	return gc, nil
}
