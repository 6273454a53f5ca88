package storage_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStaysLean: the storage packages link no cloud SDK, no CLI code and no task-spec code, so that the node
// agent can copy buckets with them (internal/agent's TestAgentStaysLean holds the agent to the same rule).
func TestStaysLean(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/stix-run/stix/internal/storage/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{"github.com/aws/", "google.golang.org/", "cloud.google.com/", "github.com/minio/",
		"github.com/spf13/cobra", "github.com/stix-run/stix/internal/cli", "github.com/stix-run/stix/internal/spec",
		"github.com/stix-run/stix/internal/cloud/gcp", "github.com/stix-run/stix/internal/cloud/aws"}
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.HasPrefix(pkg, f) && !strings.HasPrefix(pkg, "github.com/stix-run/stix/internal/cloud/gcp/gcpauth") {
				t.Errorf("internal/storage depends on %s (forbidden: %s)", pkg, f)
			}
		}
	}
}
