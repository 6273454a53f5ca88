package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// AgentBinaryEnv is the variable through which providers find the stix-agent binary (nodeagent.BinaryEnv).
const AgentBinaryEnv = "STIX_AGENT_BIN"

// RunWithAgent runs a package's tests with a real stix-agent: the one $STIX_AGENT_BIN names (make test builds
// bin/ first), else one built from ./cmd/stix-agent into a temporary directory removed afterwards. Call it from
// TestMain: os.Exit(testutil.RunWithAgent(m)).
func RunWithAgent(m *testing.M) int {
	if os.Getenv(AgentBinaryEnv) == "" {
		dir, err := os.MkdirTemp("", "stix-agent-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, "stix-agent")
		build := exec.Command("go", "build", "-o", bin, "github.com/stix-run/stix/cmd/stix-agent")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build stix-agent:", err)
			return 1
		}
		os.Setenv(AgentBinaryEnv, bin)
	}
	return m.Run()
}
