package transport

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
)

// What the transports that run commands through an exec API (a Docker Engine's, a Kubernetes API server's) share:
// the API runs an argv, so the node's shell comes from a wrapper, and a command whose caller gave up is found
// and killed by a marker in its environment.

// ShellWrapper runs $1 with bash when the node has it (SkyPilot's scripts are bash), else with sh. exec keeps
// it one process.
const ShellWrapper = `if command -v bash >/dev/null 2>&1; then exec bash -c "$1"; fi; exec sh -c "$1"`

// ExecMarker is set in every exec's environment, with a value unique to the exec; the environment is inherited,
// so on cancel the marker finds the command and all its children, whatever their process group or session.
const ExecMarker = "STIX_EXEC_ID"

// KillScript SIGKILLs every process whose environment holds STIX_EXEC_ID=$1, repeating while it finds some so
// that children forked during a pass die too.
const KillScript = `m="` + ExecMarker + `=$1"; i=0
while [ $i -lt 20 ]; do
  found=
  for p in /proc/[0-9]*; do
    if tr '\0' '\n' < "$p/environ" 2>/dev/null | grep -qxF "$m"; then kill -9 "${p#/proc/}" 2>/dev/null; found=1; fi
  done
  [ -z "$found" ] && exit 0
  i=$((i+1))
done`

// ExecHome is the home directory of a node reached through an exec API: given when the transport was made, or
// asked of the node ($HOME) once, on first use.
type ExecHome struct {
	once sync.Once
	home string
	err  error
}

// NewExecHome returns a node's home: given when not empty (it must be absolute), else found on first use.
// what names the transport in the error ("docker transport").
func NewExecHome(given, what string) (*ExecHome, error) {
	h := &ExecHome{}
	if given != "" {
		if !path.IsAbs(given) {
			return nil, fmt.Errorf("%s: home %q is not an absolute path", what, given)
		}
		h.home = path.Clean(given)
		h.once.Do(func() {})
	}
	return h, nil
}

// Get returns the home directory, the first time by running printf "$HOME" with run (an argv on the node, its
// stdout to the writer); where names the node in the error.
func (h *ExecHome) Get(ctx context.Context, where string, run func(ctx context.Context, argv []string, stdout io.Writer) (int, error)) (string, error) {
	h.once.Do(func() {
		var out strings.Builder
		code, err := run(ctx, []string{"/bin/sh", "-c", `printf %s "$HOME"`}, &out)
		switch {
		case err != nil:
			h.err = err
		case code != 0 || !path.IsAbs(out.String()):
			h.err = fmt.Errorf("no usable $HOME (exit %d, %q)", code, out.String())
		default:
			h.home = path.Clean(out.String())
		}
	})
	if h.err != nil {
		return "", fmt.Errorf("%s: find home directory: %w", where, h.err)
	}
	return h.home, nil
}

// Resolve maps a remote path to an absolute path on the node: "~" and "~/x" into the home directory (found with
// home), relative paths relative to it, absolute paths unchanged.
func Resolve(ctx context.Context, remote string, home func(context.Context) (string, error)) (string, error) {
	if path.IsAbs(remote) {
		return path.Clean(remote), nil
	}
	h, err := home(ctx)
	if err != nil {
		return "", err
	}
	return ResolvePath(h, remote), nil
}
