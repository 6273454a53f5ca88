package config

import (
	"strings"
	"testing"
)

// admin_policy and stix_admin_policy are acted on (no warning); the built-ins' parameters are checked with
// positions.
func TestAdminPolicyKeys(t *testing.T) {
	cfg, err := Parse(LayerUser, "c.yaml", []byte("admin_policy: stix:require_labels\nstix_admin_policy:\n  require_labels:\n    keys: [team]\n  enforce_autostop:\n    idle_minutes: 30\n"))
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.Warnings(); len(w) != 0 {
		t.Errorf("warnings %v, want none", w)
	}
	if v, _ := cfg.Get("stix_admin_policy.enforce_autostop.idle_minutes"); v != int64(30) {
		t.Errorf("idle_minutes = %#v", v)
	}
	for _, tc := range []struct{ text, want string }{
		{"stix_admin_policy:\n  require_labels: {}\n", "c.yaml:2:19: stix_admin_policy.require_labels: missing required key \"keys\""},
		{"stix_admin_policy:\n  enforce_autostop:\n    idle_minutes: -1\n", "c.yaml:3:19: stix_admin_policy.enforce_autostop.idle_minutes:"},
		{"stix_admin_policy:\n  restrict_infra:\n    alowed: [aws]\n", `c.yaml:3:5: stix_admin_policy.restrict_infra.alowed: unknown key "alowed" (did you mean "allowed"?)`},
		{"admin_policy: [a]\n", "c.yaml:1:15: admin_policy: expected string"},
	} {
		_, err := Parse(LayerPolicy, "c.yaml", []byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.text, err, tc.want)
		}
	}
}
