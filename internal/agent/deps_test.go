package agent

import (
	"os/exec"
	"strings"
	"testing"
)

// TestAgentStaysLean fails when the agent binary picks up a dependency it must not have (Tailscale's depaware
// idea): it runs on every node, so no cloud SDK, no CLI framework, no CLI or task-spec code.
func TestAgentStaysLean(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/stix-run/stix/cmd/stix-agent").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/aws/", "google.golang.org/api", "cloud.google.com/", "github.com/Azure/", "k8s.io/",
		"github.com/spf13/cobra", "github.com/stix-run/stix/internal/cli", "github.com/stix-run/stix/internal/spec",
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if pkg == strings.TrimSuffix(f, "/") || strings.HasPrefix(pkg, f) ||
				strings.HasPrefix(pkg, strings.TrimSuffix(f, "/")+"/") {
				t.Errorf("stix-agent depends on %s (forbidden: %s)", pkg, f)
			}
		}
	}
}
