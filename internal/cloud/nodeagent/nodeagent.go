// Package nodeagent is what providers share to put the stix agent on a node and know it is up: where the
// stix-agent binary is, the per-cluster secret, the command that starts the agent, the files it writes in its
// directory, and its health check.
package nodeagent

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/agent/envknob"
)

// Files in an agent's directory (the agent's contract).
const (
	// SecretFile holds the per-cluster secret; the provisioner writes it (mode 0600) before starting the agent.
	SecretFile = "secret"
	// AddrFile holds the host:port the agent listens on; the agent writes it atomically once listening.
	AddrFile = "agent.addr"
	// PIDFile holds the agent's process id; the agent writes it once listening.
	PIDFile = agent.PIDFile
	// LogFile receives the agent's stderr; the provisioner redirects it there.
	LogFile = "agent.log"
)

// BinaryName is the agent's executable name.
const BinaryName = "stix-agent"

// BinaryEnv names the environment variable that points at the stix-agent binary to use (tests, development).
const BinaryEnv = "STIX_AGENT_BIN"

// ErrBinaryNotFound is returned by Binary when there is no stix-agent to run.
var ErrBinaryNotFound = errors.New(BinaryName + " not found: run make install")

// Binary finds the stix-agent executable: $STIX_AGENT_BIN, else next to the running executable (bin/stix and
// bin/stix-agent are installed together), else on PATH.
func Binary() (string, error) {
	if p := os.Getenv(BinaryEnv); p != "" {
		if !isExecutable(p) {
			return "", fmt.Errorf("%s=%s is not an executable file: %w", BinaryEnv, p, ErrBinaryNotFound)
		}
		return filepath.Abs(p)
	}
	if self, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(self), BinaryName); isExecutable(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath(BinaryName); err == nil {
		return filepath.Abs(p)
	}
	return "", ErrBinaryNotFound
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// NewSecret returns a fresh per-cluster secret: 32 random bytes, hex-encoded.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate cluster secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// ServeArgs are the arguments that start an agent keeping its state in dir and listening on listen
// ("host:port"; port 0 lets the agent choose and report it in AddrFile). A STIX_IDLE_UNIT set here travels as
// --idle-unit: agents on other machines (containers, SSH hosts) do not see this process's environment.
func ServeArgs(dir, listen string) []string {
	args := []string{"serve", "--dir", dir, "--listen", listen}
	if os.Getenv(envknob.IdleUnit.Name) != "" {
		if d, err := envknob.IdleUnit.Get(); err == nil {
			args = append(args, "--idle-unit", d.String())
		}
	}
	return args
}

// TailLines returns the last n lines of the file at path, for error messages ("(no log)" when it cannot be
// read). It reads at most the last 64 KiB.
func TailLines(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no log)"
	}
	defer f.Close()
	const window = 64 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > window {
		if _, err := f.Seek(fi.Size()-window, io.SeekStart); err != nil {
			return "(no log)"
		}
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return "(no log)"
	}
	lines := strings.Split(string(bytes.TrimRight(b, "\n")), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 1 && lines[0] == "" {
		return "(empty log)"
	}
	return strings.Join(lines, "\n")
}
