// Package auth decides who calls the API server and what they may do: service-account tokens (stored hashed in
// the server's own database), HTTP basic auth from an htpasswd file (bcrypt only), and the user header of a
// trusted SSO proxy in front (SkyPilot's X-Auth-Request-Email). Every caller becomes an Identity: a user name
// and a role. See docs/auth.md.
package auth

import (
	"net/http"

	"context"
	"fmt"
	"github.com/stix-run/stix/api"
)

// Role is what a user may do, as SkyPilot's RBAC names it.
type Role string

// Roles: an admin sees and acts on every user's clusters and requests and manages tokens; a user only on
// their own.
const (
	RoleAdmin Role = "admin"
	RoleUser  Role = "user"
)

// ParseRole checks a role's name.
func ParseRole(s string) (Role, error) {
	switch Role(s) {
	case RoleAdmin, RoleUser:
		return Role(s), nil
	}
	return "", fmt.Errorf("role %q: want admin or user", s)
}

// Identity is the caller of one API request.
type Identity struct {
	// Name is the user: recorded on clusters, jobs and requests, and SKYPILOT_USER on the nodes.
	Name string
	Role Role
	// Method says how the caller was identified: token, basic, proxy or header (the unauthenticated X-Stix-User
	// of a server without auth).
	Method string
}

// IsAdmin reports whether the identity may act on every user's resources.
func (i Identity) IsAdmin() bool { return i.Role == RoleAdmin }

type identityKey struct{}

// With returns ctx carrying id.
func With(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// From returns the identity ctx carries; ok is false when there is none (the CLI's embedded core).
func From(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok && id.Name != ""
}

// unauthorized is a 401 error: the caller is not who it says, or says nothing.
func unauthorized(format string, args ...any) *api.Error {
	return &api.Error{Code: api.CodeUnauthorized, Status: http.StatusUnauthorized, Message: fmt.Sprintf(format, args...),
		Hint: "log in with `stix api login -e URL --token TOKEN` (an admin creates tokens with `stix api token create`)"}
}

// Forbidden is a 403 error: the caller is known but may not do this.
func Forbidden(format string, args ...any) *api.Error {
	return &api.Error{Code: api.CodeForbidden, Status: http.StatusForbidden, Message: fmt.Sprintf(format, args...)}
}

func badRequest(msg string) *api.Error {
	return &api.Error{Code: api.CodeBadRequest, Status: http.StatusBadRequest, Message: msg}
}
