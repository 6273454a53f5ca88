package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/stix-run/stix/internal/agent/proc"
)

// KillAll stops everything the agent of node directory dir runs, with or without the agent alive: the agents
// serving dir (StopAgent) first, so they start nothing more, then every job process recorded under DIR/procs
// with everything it started, daemons included (SIGTERM, then SIGKILL after a grace period). It returns when
// all are gone, or an error naming what survived. `stix stop` and `stix down` use it on the local provider.
func KillAll(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	var errs []error
	if err := StopAgent(dir, 5*time.Second); err != nil {
		errs = append(errs, err)
	}
	if err := killJobs(dir); err != nil {
		errs = append(errs, err)
	}
	// Once the jobs are gone, their files are closed: flush what they wrote to MOUNT_CACHED buckets, unmount.
	if err := unmountAll(dir); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("stop node %s: %w", dir, errors.Join(errs...))
	}
	return nil
}

// killJobs ends every job process recorded under DIR/procs with everything it started (SIGTERM, then SIGKILL
// after a grace period), marking each as stopped. It returns when all are gone, or an error naming what
// survived. KillAll calls it once the agents are stopped; an agent that ends itself for autostop calls it too.
func killJobs(dir string) error {
	var errs []error
	recs, err := procRecords(filepath.Join(dir, "procs"))
	if err != nil {
		errs = append(errs, err)
	}
	var groups []procRecord
	procs := proc.Scan()
	for _, r := range recs {
		if len(procs.Members(r.job())) > 0 {
			// Mark it first: the next agent reports the job as FAILED_DRIVER (SkyPilot's state for jobs that a
			// stop interrupted), whatever exit code the killed process leaves.
			if err := os.WriteFile(filepath.Join(dir, "procs", r.ID+stoppedExt), nil, 0o600); err != nil {
				errs = append(errs, err)
			}
			groups = append(groups, r)
		}
	}
	for _, r := range groups {
		if _, err := procs.Signal(r.job(), syscall.SIGTERM); err != nil {
			errs = append(errs, err)
		}
	}
	for _, r := range waitGroupsGone(groups, 3*time.Second) {
		if err := r.job().Kill(killLimit); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.ID, err))
		}
	}
	return errors.Join(errs...)
}

// waitGroupsGone polls until the jobs have no live process or the time is up, and returns those left. Each poll
// scans /proc once for all of them.
func waitGroupsGone(groups []procRecord, limit time.Duration) []procRecord {
	deadline := time.Now().Add(limit)
	for {
		procs := proc.Scan()
		groups = slices.DeleteFunc(groups, func(r procRecord) bool {
			return len(procs.Members(r.job())) == 0
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
