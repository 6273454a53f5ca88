package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/agent/proc"
	"github.com/stix-run/stix/internal/sqlitedb/filelock"
)

// PIDFile, in the agent's directory, holds the process id of the agent serving it; the agent writes it once
// listening and removes it when it stops.
const PIDFile = "agent.pid"

// agentProc is a process found serving a directory, identified by pid and start time.
type agentProc struct {
	pid   int
	ticks uint64
}

// RecordedAgentPID returns the pid in DIR/agent.pid (0 when there is none) and whether that process is still an
// agent serving dir (a pid may have been reused since the file was written).
func RecordedAgentPID(dir string) (pid int, serving bool) {
	pid, err := strconv.Atoi(readTrimmed(filepath.Join(dir, PIDFile)))
	if err != nil || pid <= 1 {
		return 0, false
	}
	_, serving = servesDir(pid, absDir(dir))
	return pid, serving
}

// AgentsServing returns the processes serving dir, found in /proc: the one in DIR/agent.pid and any other, so
// that an agent whose pid file was lost or overwritten (two hosts sharing one home directory once did that) is
// found too.
func AgentsServing(dir string) []int {
	var pids []int
	for _, a := range agentsServing(dir) {
		pids = append(pids, a.pid)
	}
	return pids
}

// StopAgent stops every agent serving dir (AgentsServing): SIGTERM, then SIGKILL after grace, through pidfds
// opened for the very processes found (a pid reused meanwhile is never hit). It leaves their jobs running and
// returns when the agents are gone, or an error naming those that survived.
func StopAgent(dir string, grace time.Duration) error {
	var errs []error
	for _, a := range agentsServing(dir) {
		if err := proc.StopProcess(a.pid, a.ticks, grace); err != nil {
			errs = append(errs, fmt.Errorf("agent of %s: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}

func agentsServing(dir string) []agentProc {
	dir = absDir(dir)
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var found []agentProc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 1 || pid == self {
			continue
		}
		if ticks, ok := servesDir(pid, dir); ok {
			found = append(found, agentProc{pid, ticks})
		}
	}
	return found
}

// servesDir reports whether pid is a live process running `... serve ... --dir D` with D resolving (against its
// cwd) to dir, which must be absolute and clean, and returns its start time. The start time is read before the
// command line and checked after, so the command line read is that process's.
func servesDir(pid int, dir string) (uint64, bool) {
	ticks, err := proc.StartTicks(pid)
	if err != nil {
		return 0, false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return 0, false
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	if !slices.Contains(args, "serve") {
		return 0, false
	}
	cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	for i, a := range args {
		var d string
		switch {
		case (a == "--dir" || a == "-dir") && i+1 < len(args):
			d = args[i+1]
		case strings.HasPrefix(a, "--dir="), strings.HasPrefix(a, "-dir="):
			d = a[strings.Index(a, "=")+1:]
		default:
			continue
		}
		if !filepath.IsAbs(d) {
			d = filepath.Join(cwd, d)
		}
		return ticks, filepath.Clean(d) == dir && proc.Alive(pid, ticks)
	}
	return 0, false
}

// absDir returns dir absolute and clean (as it is when the working directory cannot be read).
func absDir(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return filepath.Clean(dir)
}

// readTrimmed returns a small file's content without surrounding space, "" when it cannot be read.
func readTrimmed(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// LockFile, in the agent's directory, is held (flock) by the agent serving it for as long as it runs.
const LockFile = "agent.lock"

// serveAlone makes this process the only agent serving dir: it takes DIR/agent.lock, and when another agent
// holds it (a provisioner that took a slow agent for a dead one and started another), it stops that agent
// first — the new one adopts its jobs, as after any restart. The kernel drops the lock when the process ends.
func serveAlone(ctx context.Context, dir string, log *slog.Logger) (unlock func() error, err error) {
	path := filepath.Join(dir, LockFile)
	unlock, err = filelock.TryLock(path)
	if !errors.Is(err, filelock.ErrLocked) {
		return unlock, err
	}
	log.Warn("another agent serves this directory; stopping it", "dir", dir, "pids", AgentsServing(dir))
	if err := StopAgent(dir, 5*time.Second); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return filelock.Lock(ctx, path)
}
