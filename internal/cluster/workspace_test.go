package cluster

import (
	"errors"
	"strings"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/config"
)

// TestWorkspaceAccess: a private workspace is for its allowed_users and admins; every other workspace, defined
// or not, and any workspace under a config with no workspaces:, is open.
func TestWorkspaceAccess(t *testing.T) {
	t.Parallel()
	private, err := config.Parse(config.LayerUser, "config.yaml", []byte("workspaces:\n  team-a:\n    private: true\n    allowed_users: [carol]\n  open: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	carol := auth.Identity{Name: "carol", Role: auth.RoleUser}
	bob := auth.Identity{Name: "bob", Role: auth.RoleUser}
	admin := auth.Identity{Name: "root", Role: auth.RoleAdmin}
	for _, tc := range []struct {
		cfg       *config.Config
		id        auth.Identity
		workspace string
		forbidden bool
	}{
		{nil, bob, "team-a", false},
		{private, carol, "team-a", false},
		{private, admin, "team-a", false},
		{private, bob, "team-a", true},
		{private, bob, "open", false},
		{private, bob, "default", false},
		{private, bob, "gone", false},
	} {
		err := WorkspaceAccess(tc.cfg, tc.id, tc.workspace)
		var e *api.Error
		if got := errors.As(err, &e) && e.Code == api.CodeForbidden; got != tc.forbidden || (err != nil && !got) {
			t.Errorf("%s in %s: %v, want forbidden %v", tc.id.Name, tc.workspace, err, tc.forbidden)
		}
		if tc.forbidden && !strings.Contains(err.Error(), `workspace "team-a" is private and "bob" is not in its allowed_users (set at config.yaml:2:3)`) {
			t.Errorf("the 403 says %q", err)
		}
	}
}
