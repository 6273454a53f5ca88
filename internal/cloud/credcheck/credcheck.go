// Package credcheck is what the credential checks of providers share: where a check looks (Env: the home
// directory, stix's home, environment variables, PATH, system paths), how it reads files without leaking the
// machine's real credentials into tests, and how it reports (Result). Each provider's Descriptor.Check is
// written with it; package credentials runs them all for `stix check`. A check makes no network call, except
// the Docker engine ping bounded by Env.DockerTimeout.
package credcheck

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Result is the outcome of checking one infra.
type Result struct {
	// Infra is the provider's canonical name.
	Infra string `json:"infra"`
	// Enabled reports whether usable credentials were found.
	Enabled bool `json:"enabled"`
	// Reason says, when not enabled, what is missing and what to do ("run aws configure or set ..."). It may
	// also hold a hint for an enabled infra.
	Reason string `json:"reason,omitempty"`
	// Detail says which credentials were found: a profile and its file, a project, an engine address.
	Detail string `json:"detail,omitempty"`
	// Contexts are where tasks may run inside the infra: Kubernetes contexts, SSH node pools, Slurm clusters.
	Contexts []string `json:"contexts,omitempty"`
}

// Enabled builds the result of a check that found credentials.
func Enabled(detail string, contexts ...string) Result {
	return Result{Enabled: true, Detail: detail, Contexts: contexts}
}

// Disabled builds the result of a check that found none, with what to do.
func Disabled(format string, args ...any) Result {
	return Result{Reason: fmt.Sprintf(format, args...)}
}

// Env is where the checks look. The zero value of each field has a documented default (see WithDefaults);
// tests point every path at temporary directories so that the machine's real credentials never leak in.
type Env struct {
	// Home is the user's home directory (~); empty skips every file under it.
	Home string
	// StixHome is stix's state directory; it holds ssh_node_pools.yaml. Empty means Home/.stix.
	StixHome string
	// Getenv reads environment variables; nil reads none.
	Getenv func(string) string
	// SystemRoot prefixes system-wide paths (/etc/slurm/slurm.conf, /var/run/docker.sock); empty means "/".
	SystemRoot string
	// DockerTimeout bounds the Docker engine ping; zero means DefaultDockerTimeout.
	DockerTimeout time.Duration
}

// DefaultDockerTimeout bounds the Docker engine ping when Env.DockerTimeout is zero.
const DefaultDockerTimeout = 500 * time.Millisecond

// WithDefaults returns e with its defaults applied: the Docker timeout, and StixHome under Home.
func (e Env) WithDefaults() Env {
	if e.DockerTimeout <= 0 {
		e.DockerTimeout = DefaultDockerTimeout
	}
	if e.StixHome == "" && e.Home != "" {
		e.StixHome = filepath.Join(e.Home, ".stix")
	}
	return e
}

// Var reads an environment variable, trimmed; "" when there is no Getenv.
func (e *Env) Var(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return strings.TrimSpace(e.Getenv(k))
}

// HomeFile joins parts under the user's home directory; "" when there is none.
func (e *Env) HomeFile(parts ...string) string {
	if e.Home == "" {
		return ""
	}
	return filepath.Join(append([]string{e.Home}, parts...)...)
}

// System returns an absolute system path under SystemRoot.
func (e *Env) System(path string) string {
	if e.SystemRoot == "" {
		return path
	}
	return filepath.Join(e.SystemRoot, path)
}

// Show writes a path for messages: under the home directory as ~/..., else as it is.
func (e *Env) Show(path string) string {
	if e.Home != "" {
		if rel, err := filepath.Rel(e.Home, path); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return filepath.ToSlash(filepath.Join("~", rel))
		}
	}
	return path
}

// Expand resolves a leading ~/ in a path taken from a variable or file.
func (e *Env) Expand(path string) string {
	if e.Home != "" && (path == "~" || strings.HasPrefix(path, "~/")) {
		return filepath.Join(e.Home, path[1:])
	}
	return path
}

// Read returns a file's content, ok=false when it does not exist, and an error saying which file could not be
// read otherwise. An empty path does not exist.
func (e *Env) Read(path string) (string, bool, error) {
	if path == "" {
		return "", false, nil
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		return string(data), true, nil
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return "", false, nil
	}
	return "", false, fmt.Errorf("cannot read %s: %w", e.Show(path), unwrapPath(err))
}

// Exists reports whether a path names an existing file or directory.
func Exists(path string) bool {
	if path == "" {
		return false
	}
	_, err := os.Stat(path)
	return err == nil
}

// LookPath finds an executable named name on the PATH that Getenv gives (not the process's own).
func (e *Env) LookPath(name string) string {
	for _, dir := range filepath.SplitList(e.Var("PATH")) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// unwrapPath drops the *fs.PathError wrapper, whose message repeats the path we already name.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
