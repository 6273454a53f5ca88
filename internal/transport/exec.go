package transport

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
