package api

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Codes of the API server's authentication and access errors.
const (
	CodeUnauthorized = "unauthorized" // 401: no credentials, or a bad, expired or revoked token or password
	CodeConflict     = "conflict"     // 409: e.g. a token name already in use
)

// Role names, as the server's RBAC has them.
const (
	RoleAdmin = "admin"
	RoleUser  = "user"
)

// TokenRequest asks the API server for a service-account token (admins only).
type TokenRequest struct {
	// Name is the service account: the user its clusters, jobs and requests are recorded under.
	Name string `json:"name"`
	// Role is admin or user; user when empty.
	Role string `json:"role,omitempty"`
	// ExpiresInDays is the token's lifetime; 0 means it never expires.
	ExpiresInDays int `json:"expires_in_days,omitempty"`
}

// TokenInfo is what the server keeps of a service-account token (never the token itself).
type TokenInfo struct {
	Name     string     `json:"name"`
	Role     string     `json:"role"`
	Created  time.Time  `json:"created"`
	Creator  string     `json:"creator"`
	Expires  *time.Time `json:"expires,omitempty"`
	Revoked  *time.Time `json:"revoked,omitempty"`
	LastUsed *time.Time `json:"last_used,omitempty"`
}

// CreatedToken is the answer to a TokenRequest: the token, shown this once, and its record.
type CreatedToken struct {
	Token string    `json:"token"`
	Info  TokenInfo `json:"info"`
}

type allUsersKey struct{}

// WithAllUsers marks ctx so that an HTTP client's Status and Match ask for every user's clusters, not only the
// caller's (`status -u`); the server allows it to admins. The embedded core shows every cluster anyway.
func WithAllUsers(ctx context.Context) context.Context {
	return context.WithValue(ctx, allUsersKey{}, true)
}

// AllUsers reports whether ctx asks for every user's clusters.
func AllUsers(ctx context.Context) bool {
	v, _ := ctx.Value(allUsersKey{}).(bool)
	return v
}

// CreateToken asks the server for a service-account token (admins only); the answer holds the token, which
// the server does not keep and never shows again.
func (c *HTTPClient) CreateToken(ctx context.Context, req TokenRequest) (CreatedToken, error) {
	var out CreatedToken
	return out, c.call(ctx, http.MethodPost, "/api/v1/tokens", nil, req, &out)
}

// Tokens lists the server's service-account tokens, revoked ones included (admins only).
func (c *HTTPClient) Tokens(ctx context.Context) ([]TokenInfo, error) {
	var out []TokenInfo
	return out, c.call(ctx, http.MethodGet, "/api/v1/tokens", nil, nil, &out)
}

// RevokeToken revokes the token named name (admins only): requests that present it are refused from then on.
func (c *HTTPClient) RevokeToken(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodDelete, "/api/v1/tokens/"+url.PathEscape(name), nil, nil, nil)
}

// RedactEndpoint returns endpoint without the password it may carry (http://USER:PASSWORD@host), to show it.
func RedactEndpoint(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.User == nil {
		return endpoint
	}
	u.User = nil
	return u.String()
}

// setAuth puts the client's credentials on req: its bearer token, else the endpoint's basic auth; and the
// user it names (X-Stix-User), which only a server without authentication reads.
func (c *HTTPClient) setAuth(req *http.Request) {
	if c.user != "" {
		req.Header.Set(HeaderUser, c.user)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	} else if c.basic != nil {
		pw, _ := c.basic.Password()
		req.SetBasicAuth(c.basic.Username(), pw)
	}
}

// AuthenticatedHTTP returns an *http.Client that puts the client's credentials on every request it sends, for
// calls to the server outside this client's methods (uploads).
func (c *HTTPClient) AuthenticatedHTTP() *http.Client {
	hc := *c.hc
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = authTransport{c: c, base: base}
	return &hc
}

type authTransport struct {
	c    *HTTPClient
	base http.RoundTripper
}

func (t authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	t.c.setAuth(req)
	return t.base.RoundTrip(req)
}
