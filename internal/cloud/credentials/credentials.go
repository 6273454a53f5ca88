// Package credentials finds out, without any network call, which infrastructure this machine has credentials
// for: cloud credential files and variables (AWS, GCP, Azure, Lambda, RunPod), kubeconfig contexts, SSH node
// pools, Slurm clusters, a reachable Docker engine, and the machine itself. It is what `stix check` reports and
// caches; see docs/check.md for where each check looks and how the enabled set limits the optimizer.
package credentials

import (
	"context"
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
	// Infra is the canonical name: one of Names().
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

// Kind says how the optimizer treats an infra (docs/check.md).
type Kind int

const (
	// Priced infra is a cloud with catalog prices; the optimizer considers every enabled one.
	Priced Kind = iota
	// Owned infra is the user's own (Kubernetes, SSH node pools, Slurm): it costs 0 and is used when enabled.
	Owned
	// Free infra (this machine, its Docker engine) costs nothing and is used only when a task names it or when
	// no priced infra is enabled.
	Free
)

// infra lists every infra stix checks, in the order `stix check` prints them, with its kind and check.
var infra = []struct {
	name  string
	kind  Kind
	check func(context.Context, *env) Result
}{
	{"aws", Priced, checkAWS},
	{"gcp", Priced, checkGCP},
	{"azure", Priced, checkAzure},
	{"lambda", Priced, checkLambda},
	{"runpod", Priced, checkRunPod},
	{"kubernetes", Owned, checkKubernetes},
	{"ssh", Owned, checkSSH},
	{"slurm", Owned, checkSlurm},
	{"docker", Free, checkDocker},
	{"local", Free, checkLocal},
}

// aliases are other names users type for an infra.
var aliases = map[string]string{"k8s": "kubernetes"}

// Names lists the canonical infra names in check order.
func Names() []string {
	out := make([]string, len(infra))
	for i, in := range infra {
		out[i] = in.name
	}
	return out
}

// Canonical returns the canonical name of an infra name or alias, in any case ("K8s" -> "kubernetes").
func Canonical(name string) (string, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	if a, ok := aliases[n]; ok {
		n = a
	}
	for _, in := range infra {
		if in.name == n {
			return n, true
		}
	}
	return "", false
}

// KindOf returns an infra's kind; names that are not canonical are Priced (every catalog cloud is).
func KindOf(name string) Kind {
	for _, in := range infra {
		if in.name == name {
			return in.kind
		}
	}
	return Priced
}

// FreeAllowed applies the rule for free infra to an enabled set: local and docker serve tasks that do not name
// them only when no priced infra is enabled.
func FreeAllowed(enabled []string) bool {
	for _, n := range enabled {
		if KindOf(n) == Priced {
			return false
		}
	}
	return true
}

// Env is where the checks look. The zero value of each field has a documented default; tests point every path
// at temporary directories so that the machine's real credentials never leak in.
type Env struct {
	// Home is the user's home directory (~); empty skips every file under it.
	Home string
	// StixHome is stix's state directory; it holds ssh_node_pools.yaml. Empty means Home/.stix.
	StixHome string
	// Getenv reads environment variables; nil reads none.
	Getenv func(string) string
	// SystemRoot prefixes system-wide paths (/etc/slurm/slurm.conf, /var/run/docker.sock); empty means "/".
	SystemRoot string
	// DockerTimeout bounds the Docker engine ping; zero means 500 ms.
	DockerTimeout time.Duration
}

// DefaultDockerTimeout bounds the Docker engine ping when Env.DockerTimeout is zero.
const DefaultDockerTimeout = 500 * time.Millisecond

// env is Env with its defaults applied, plus the helpers the checks share.
type env struct{ Env }

func (e *env) getenv(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return strings.TrimSpace(e.Getenv(k))
}

// home joins parts under the user's home directory; "" when there is none.
func (e *env) home(parts ...string) string {
	if e.Home == "" {
		return ""
	}
	return filepath.Join(append([]string{e.Home}, parts...)...)
}

// system returns an absolute system path under SystemRoot.
func (e *env) system(path string) string {
	if e.SystemRoot == "" {
		return path
	}
	return filepath.Join(e.SystemRoot, path)
}

// show writes a path for messages: under the home directory as ~/..., else as it is.
func (e *env) show(path string) string {
	if e.Home != "" {
		if rel, err := filepath.Rel(e.Home, path); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return filepath.ToSlash(filepath.Join("~", rel))
		}
	}
	return path
}

// expand resolves a leading ~/ in a path taken from a variable or file.
func (e *env) expand(path string) string {
	if e.Home != "" && (path == "~" || strings.HasPrefix(path, "~/")) {
		return filepath.Join(e.Home, path[1:])
	}
	return path
}

// read returns a file's content, ok=false when it does not exist, and an error saying which file could not be
// read otherwise. An empty path does not exist.
func (e *env) read(path string) (string, bool, error) {
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
	return "", false, fmt.Errorf("cannot read %s: %w", e.show(path), unwrapPath(err))
}

// exists reports whether a path names an existing file or directory.
func exists(path string) bool {
	if path == "" {
		return false
	}
	_, err := os.Stat(path)
	return err == nil
}

// lookPath finds an executable named name on the PATH that Getenv gives (not the process's own).
func (e *env) lookPath(name string) string {
	for _, dir := range filepath.SplitList(e.getenv("PATH")) {
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

// Check runs the checks of the named infra (canonical names or aliases; all of them when none is named) and
// returns their results in check order. Unknown names are skipped: validate them with Canonical first. Only the
// Docker check does I/O beyond reading files, a ping bounded by Env.DockerTimeout and ctx.
func Check(ctx context.Context, e Env, names ...string) []Result {
	want := map[string]bool{}
	for _, n := range names {
		if c, ok := Canonical(n); ok {
			want[c] = true
		}
	}
	if e.DockerTimeout <= 0 {
		e.DockerTimeout = DefaultDockerTimeout
	}
	if e.StixHome == "" && e.Home != "" {
		e.StixHome = filepath.Join(e.Home, ".stix")
	}
	en := &env{e}
	var out []Result
	for _, in := range infra {
		if len(names) > 0 && !want[in.name] {
			continue
		}
		r := in.check(ctx, en)
		r.Infra = in.name
		out = append(out, r)
	}
	return out
}

// Enabled returns the names of the enabled results, in order.
func Enabled(results []Result) []string {
	var out []string
	for _, r := range results {
		if r.Enabled {
			out = append(out, r.Infra)
		}
	}
	return out
}

func checkLocal(context.Context, *env) Result {
	return Result{Enabled: true, Detail: "this machine: clusters of agent processes under the stix home"}
}

// enabled and disabled build results.
func enabled(detail string, contexts ...string) Result {
	return Result{Enabled: true, Detail: detail, Contexts: contexts}
}

func disabled(format string, args ...any) Result {
	return Result{Reason: fmt.Sprintf(format, args...)}
}
