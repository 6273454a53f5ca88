package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/agent/envknob"
)

func TestMainCommands(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"stix-agent"}, 2, "", "usage: stix-agent"},
		{[]string{"stix-agent", "version"}, 0, "stix-agent " + Version, ""},
		{[]string{"stix-agent", "knobs"}, 0, "STIX_FAKE_GPUS", ""},
		{[]string{"stix-agent", "bogus"}, 2, "", `unknown command "bogus"`},
		{[]string{"stix-agent", "serve"}, 2, "", "--dir is required"},
		{[]string{"stix-agent", "serve", "--dir", "/nonexistent/stix"}, 1, "", "does not exist"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[1:], " "), func(t *testing.T) {
			t.Parallel()
			var out, errb strings.Builder
			code := mainWith(tt.args, &out, &errb)
			if code != tt.code || !strings.Contains(out.String(), tt.out) || !strings.Contains(errb.String(), tt.err) {
				t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
			}
		})
	}
}

func TestSecretMustBePrivate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "secret")
	os.WriteFile(p, []byte("x\n"), 0o644)
	if _, err := readSecret(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable secret: %v", err)
	}
	os.Chmod(p, 0o600)
	if s, err := readSecret(p); err != nil || string(s) != "x" {
		t.Errorf("secret = %q, %v", s, err)
	}
	os.WriteFile(p, []byte("\n"), 0o600)
	if _, err := readSecret(p); err == nil {
		t.Error("empty secret accepted")
	}
}

// TestDocsCoverAPI keeps docs/agent.md in step with the code: every endpoint and every knob is described.
func TestDocsCoverAPI(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "agent.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, r := range (&agent{}).routes() {
		if !strings.Contains(doc, "`"+r.pattern) {
			t.Errorf("docs/agent.md does not describe %s", r.pattern)
		}
	}
	for _, k := range envknob.All() {
		if !strings.Contains(doc, k.Name) {
			t.Errorf("docs/agent.md does not mention %s", k.Name)
		}
	}
	for _, s := range []JobStatus{StatusInit, StatusPending, StatusSettingUp, StatusRunning, StatusSucceeded,
		StatusFailed, StatusFailedSetup, StatusFailedDriver, StatusCancelled} {
		if !strings.Contains(doc, string(s)) {
			t.Errorf("docs/agent.md does not mention state %s", s)
		}
	}
}
