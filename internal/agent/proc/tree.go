package proc

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// TokenVar marks every process a job starts: Start puts TokenVar=<the job's token> in the job's environment, and
// children inherit it however they detach (setsid, a double fork, nohup), so a scan of /proc finds them after
// they have left the job's session and been re-parented to init. A process that replaces its whole environment
// (env -i) drops the mark; it still counts while an ancestor of it does (see Members).
const TokenVar = "STIX_PROC_TOKEN"

// Job identifies a started job process and everything it started.
type Job struct {
	PID        int    // the wrapper: leader of the job's session and process group
	StartTicks uint64 // the wrapper's start time (pid reuse cannot fool the checks)
	Token      string // TokenVar's value in the job's processes; empty for processes of agents before it existed
}

// newToken returns a random token that no other job shares.
func newToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("job token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// withToken returns env with TokenVar set to token (an inherited value, from an agent that runs as a job itself,
// is replaced).
func withToken(env []string, token string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if len(kv) > len(TokenVar) && kv[:len(TokenVar)+1] == TokenVar+"=" {
			continue
		}
		out = append(out, kv)
	}
	return append(out, TokenVar+"="+token)
}

// member is a live process of a job, identified by pid and start time.
type member struct {
	pid     int
	ticks   uint64
	inGroup bool // in the job's own session and process group
}

// Members returns the job's live processes: the wrapper, whatever is still in its session and process group,
// every process that carries the job's token, and every descendant of those. This process (the agent, or the
// CLI running KillAll) and init are never members.
func (j Job) Members() []member {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	stats := map[int]stat{}
	children := map[int][]int{}
	var roots []int
	want := []byte(TokenVar + "=" + j.Token + "\x00")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 1 || pid == self {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.State == 'Z' || st.State == 'X' {
			continue
		}
		stats[pid] = st
		children[st.PPID] = append(children[st.PPID], pid)
		switch {
		case pid == j.PID && st.StartTicks == j.StartTicks,
			st.PGRP == j.PID && st.SID == j.PID,
			j.Token != "" && hasEnv(pid, want):
			roots = append(roots, pid)
		}
	}
	// Breadth first: parents come before their children, which Signal relies on.
	seen := map[int]bool{}
	var out []member
	for queue := roots; len(queue) > 0; queue = queue[1:] {
		pid := queue[0]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		st := stats[pid]
		out = append(out, member{pid: pid, ticks: st.StartTicks, inGroup: st.PGRP == j.PID && st.SID == j.PID})
		queue = append(queue, children[pid]...)
	}
	return out
}

// hasEnv reports whether the environment of pid holds the entry want ("K=V\x00"). A process of another user is
// unreadable, and so never a member: the agent could not signal it anyway.
func hasEnv(pid int, want []byte) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	return bytes.HasPrefix(b, want) || bytes.Contains(b, append([]byte{0}, want...))
}

// Running reports whether any process of the job is alive.
func (j Job) Running() bool { return len(j.Members()) > 0 }

// Signal sends sig once to every live process of the job; a job that is gone is not an error. The job's own
// process group is signalled at once (kill(-pgid)), as a terminal would: signalled one by one, a script could
// see its child die and exit 0 before its own signal arrived. The processes that left the group follow,
// parents before children.
func (j Job) Signal(sig syscall.Signal) error {
	if j.PID <= 1 {
		return fmt.Errorf("refusing to signal job process %d", j.PID)
	}
	members := j.Members()
	var errs []error
	if slices.ContainsFunc(members, func(m member) bool { return m.inGroup }) {
		if err := syscall.Kill(-j.PID, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("signal process group %d: %w", j.PID, err))
		}
	}
	for _, m := range members {
		if m.inGroup {
			continue
		}
		if err := m.signal(sig); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Kill sends SIGKILL to the job's processes until none is left (a process may fork between the scan and the
// signal; its child carries the token and is found by the next scan), or the time is up.
func (j Job) Kill(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if err := j.Signal(syscall.SIGKILL); err != nil {
			return err
		}
		left := j.Members()
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("job process %d: %d processes survived SIGKILL", j.PID, len(left))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// signal sends sig through a pidfd opened after checking the start time, so a pid reused since the scan is
// never hit.
func (m member) signal(sig syscall.Signal) error {
	fd, err := unix.PidfdOpen(m.pid, 0)
	if errors.Is(err, unix.ENOSYS) {
		// Kernels before 5.3: the window between the scan and kill is all there is.
		if Alive(m.pid, m.ticks) {
			err = syscall.Kill(m.pid, sig)
		}
		return ignoreGone(m.pid, err)
	}
	if err != nil {
		return ignoreGone(m.pid, err)
	}
	defer unix.Close(fd)
	if !Alive(m.pid, m.ticks) {
		return nil
	}
	return ignoreGone(m.pid, unix.PidfdSendSignal(fd, sig, nil, 0))
}

func ignoreGone(pid int, err error) error {
	if err == nil || errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return fmt.Errorf("signal process %d: %w", pid, err)
}
