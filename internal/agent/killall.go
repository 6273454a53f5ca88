package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stix-run/stix/internal/agent/proc"
)

// KillAll stops everything the agent of node directory dir runs, with or without the agent alive: the agent
// itself (DIR/agent.pid, SIGTERM then SIGKILL) first, so it starts nothing more, then every job process recorded
// under DIR/procs with everything it started, daemons included (SIGTERM, then SIGKILL after a grace period). It returns when all are gone, or an
// error naming what survived. `stix stop` and `stix down` use it on the local provider.
func KillAll(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, pid := range agentsServing(dir) {
		if err := stopProcess(pid, 5*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	recs, err := procRecords(filepath.Join(dir, "procs"))
	if err != nil {
		errs = append(errs, err)
	}
	var groups []procRecord
	for _, r := range recs {
		if r.job().Running() {
			// Mark it first: the next agent reports the job as FAILED_DRIVER (SkyPilot's state for jobs that a
			// stop interrupted), whatever exit code the killed process leaves.
			if err := os.WriteFile(filepath.Join(dir, "procs", r.ID+stoppedExt), nil, 0o600); err != nil {
				errs = append(errs, err)
			}
			groups = append(groups, r)
		}
	}
	for _, r := range groups {
		if err := r.job().Signal(syscall.SIGTERM); err != nil {
			errs = append(errs, err)
		}
	}
	for _, r := range waitGroupsGone(groups, 3*time.Second) {
		if err := r.job().Kill(killLimit); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.ID, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("stop node %s: %w", dir, errors.Join(errs...))
	}
	return nil
}

// waitGroupsGone polls until the jobs have no live process or the time is up, and returns those left.
func waitGroupsGone(groups []procRecord, limit time.Duration) []procRecord {
	deadline := time.Now().Add(limit)
	for {
		groups = slices.DeleteFunc(groups, func(r procRecord) bool {
			return !r.job().Running()
		})
		if len(groups) == 0 || time.Now().After(deadline) {
			return groups
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func procRecords(pdir string) ([]procRecord, error) {
	files, err := filepath.Glob(filepath.Join(pdir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []procRecord
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // released meanwhile
		}
		var r procRecord
		if json.Unmarshal(b, &r) == nil && r.PID > 1 {
			out = append(out, r)
		}
	}
	return out, nil
}

// agentPID returns the pid in DIR/agent.pid if that process is still an agent serving dir (a pid may have been
// reused since the file was written).
func agentPID(dir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "agent.pid"))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, false
	}
	return pid, servesDir(pid, dir)
}

// servesDir reports whether pid runs `... serve ... --dir D` with D resolving (against its cwd) to dir.
func servesDir(pid int, dir string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	if !slices.Contains(args, "serve") {
		return false
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
		return filepath.Clean(d) == dir
	}
	return false
}

// stopProcess sends SIGTERM, then SIGKILL after grace, and waits for the process to be gone.
func stopProcess(pid int, grace time.Duration) error {
	ticks, err := proc.StartTicks(pid)
	if err != nil {
		return nil // already gone
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("signal agent %d: %w", pid, err)
		}
		deadline := time.Now().Add(grace)
		for proc.Alive(pid, ticks) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if !proc.Alive(pid, ticks) {
			return nil
		}
	}
	return fmt.Errorf("agent %d survived SIGKILL", pid)
}
