package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/stix-run/stix/api"
)

// DefaultProxyHeader is the header an SSO proxy names the user in, as SkyPilot reads it (oauth2-proxy's).
const DefaultProxyHeader = "X-Auth-Request-Email"

// Config is how the API server authenticates callers: api_server.auth and rbac in the server's config.
type Config struct {
	// ServiceAccounts requires authentication even when no other method is configured: tokens only.
	ServiceAccounts bool
	// HtpasswdFile, when set, allows HTTP basic auth against its bcrypt hashes.
	HtpasswdFile string
	// ProxyHeader, when set, is the header a trusted SSO proxy names the user in.
	ProxyHeader string
	// TrustedProxies are the addresses the proxy header is honoured from; empty means any peer.
	TrustedProxies []netip.Prefix
	// Admins get the admin role when they authenticate with basic auth or the proxy header.
	Admins []string
	// DefaultRole is the role of other users who authenticate with basic auth, the proxy header or (without
	// auth) X-Stix-User: rbac.default_role, admin when unset, as SkyPilot's.
	DefaultRole Role
}

// Required reports whether every request must authenticate: some method is configured.
func (c Config) Required() bool {
	return c.ServiceAccounts || c.HtpasswdFile != "" || c.ProxyHeader != ""
}

// Authenticator identifies the caller of each request.
type Authenticator struct {
	cfg      Config
	tokens   *Tokens
	htpasswd *Htpasswd
}

// NewAuthenticator checks cfg (reading the htpasswd file) and returns its Authenticator over tokens.
func NewAuthenticator(cfg Config, tokens *Tokens) (*Authenticator, error) {
	if cfg.DefaultRole == "" {
		cfg.DefaultRole = RoleAdmin
	}
	if _, err := ParseRole(string(cfg.DefaultRole)); err != nil {
		return nil, fmt.Errorf("rbac.default_role: %w", err)
	}
	a := &Authenticator{cfg: cfg, tokens: tokens}
	if cfg.HtpasswdFile != "" {
		h, err := LoadHtpasswd(cfg.HtpasswdFile)
		if err != nil {
			return nil, fmt.Errorf("api_server.auth.htpasswd_file: %w", err)
		}
		a.htpasswd = h
	}
	if cfg.ProxyHeader != "" {
		a.cfg.ProxyHeader = http.CanonicalHeaderKey(cfg.ProxyHeader)
	}
	return a, nil
}

// Required reports whether every request must authenticate.
func (a *Authenticator) Required() bool { return a.cfg.Required() }

// Authenticate returns the caller of r: the owner of its bearer token, the user of its basic auth, the user
// the trusted proxy names, or (on a server without auth) the user the client names in X-Stix-User. A bad
// credential is a 401 *api.Error whatever the server's mode; so is none when authentication is required.
func (a *Authenticator) Authenticate(ctx context.Context, r *http.Request) (Identity, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, cred, _ := strings.Cut(h, " ")
		switch strings.ToLower(scheme) {
		case "bearer":
			return a.tokens.Lookup(ctx, strings.TrimSpace(cred))
		case "basic":
			return a.basic(strings.TrimSpace(cred))
		}
		return Identity{}, unauthorized("unsupported Authorization scheme %q: send Bearer TOKEN or Basic credentials", scheme)
	}
	if a.cfg.ProxyHeader != "" {
		if user := strings.TrimSpace(r.Header.Get(a.cfg.ProxyHeader)); user != "" {
			if !a.trustedPeer(r.RemoteAddr) {
				return Identity{}, unauthorized("the %s header came from %s, which is not in api_server.auth.trusted_proxies", a.cfg.ProxyHeader, r.RemoteAddr)
			}
			return Identity{Name: user, Role: a.roleOf(user), Method: "proxy"}, nil
		}
	}
	if a.cfg.Required() {
		return Identity{}, unauthorized("this API server requires authentication: send a token (Authorization: Bearer)%s", a.otherMethods())
	}
	user := r.Header.Get(api.HeaderUser)
	if user == "" {
		user = "unknown"
	}
	return Identity{Name: user, Role: a.roleOf(user), Method: "header"}, nil
}

func (a *Authenticator) otherMethods() string {
	var m []string
	if a.htpasswd != nil {
		m = append(m, "basic auth")
	}
	if a.cfg.ProxyHeader != "" {
		m = append(m, "the SSO proxy in front")
	}
	if len(m) == 0 {
		return ""
	}
	return ", or go through " + strings.Join(m, " or ")
}

func (a *Authenticator) basic(cred string) (Identity, error) {
	if a.htpasswd == nil {
		return Identity{}, unauthorized("basic auth is not configured on this API server (api_server.auth.htpasswd_file)")
	}
	b, err := base64.StdEncoding.DecodeString(cred)
	user, pass, ok := strings.Cut(string(b), ":")
	if err != nil || !ok {
		return Identity{}, unauthorized("malformed basic auth credentials")
	}
	if !a.htpasswd.Check(user, pass) {
		return Identity{}, unauthorized("wrong user name or password")
	}
	return Identity{Name: user, Role: a.roleOf(user), Method: "basic"}, nil
}

func (a *Authenticator) roleOf(user string) Role {
	if slices.Contains(a.cfg.Admins, user) {
		return RoleAdmin
	}
	return a.cfg.DefaultRole
}

func (a *Authenticator) trustedPeer(remote string) bool {
	if len(a.cfg.TrustedProxies) == 0 {
		return true
	}
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap()
	for _, p := range a.cfg.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// ParseTrustedProxies reads api_server.auth.trusted_proxies: addresses or CIDR prefixes.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("api_server.auth.trusted_proxies: %q is not an IP address or CIDR prefix (e.g. 10.0.0.0/8)", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// Session methods: how the dashboard keeps a login without keeping its credential.
const (
	SessionToken = "token"
	SessionBasic = "basic"
)

// SessionCredential returns what a session made with authorization (as Authenticate accepted it for id) keeps
// to check it again on every page, cheaply: for a token its SHA-256 (as the token table keeps it, never the
// token); for basic auth the SHA-256 of the user's htpasswd entry, which a changed password changes. method
// is SessionToken or SessionBasic.
func (a *Authenticator) SessionCredential(id Identity, authorization string) (method, credential string, err error) {
	scheme, cred, _ := strings.Cut(authorization, " ")
	switch strings.ToLower(scheme) {
	case "bearer":
		return SessionToken, HashToken(strings.TrimSpace(cred)), nil
	case "basic":
		c, err := a.htpasswdCredential(id.Name)
		return SessionBasic, c, err
	}
	return "", "", unauthorized("unsupported Authorization scheme %q for a session", scheme)
}

// CheckSession checks a session's credential again and returns its user as they are now: the token (by its
// hash) must still be valid — not revoked, not expired; the user's htpasswd entry must be unchanged — not
// removed, the password not changed. The role is the token's, or the configured one.
func (a *Authenticator) CheckSession(ctx context.Context, method, user, credential string) (Identity, error) {
	switch method {
	case SessionToken:
		return a.tokens.LookupHash(ctx, credential)
	case SessionBasic:
		c, err := a.htpasswdCredential(user)
		if err != nil {
			return Identity{}, err
		}
		if subtle.ConstantTimeCompare([]byte(c), []byte(credential)) != 1 {
			return Identity{}, unauthorized("the password of %q changed since the session began", user)
		}
		return Identity{Name: user, Role: a.roleOf(user), Method: "basic"}, nil
	}
	return Identity{}, unauthorized("unknown session method %q", method)
}

func (a *Authenticator) htpasswdCredential(user string) (string, error) {
	if a.htpasswd == nil {
		return "", unauthorized("basic auth is not configured on this API server (api_server.auth.htpasswd_file)")
	}
	hash, ok, err := a.htpasswd.Entry(user)
	if err != nil {
		return "", unauthorized("basic auth is unavailable: %v", err)
	}
	if !ok {
		return "", unauthorized("user %q is not in the htpasswd file", user)
	}
	s := sha256.Sum256([]byte(user + ":" + string(hash)))
	return hex.EncodeToString(s[:]), nil
}
