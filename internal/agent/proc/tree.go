package proc

import (
	"bytes"
	"context"
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

// tokenEntry starts TokenVar's entry anywhere in an environ file but at its start.
const tokenEntry = "\x00" + TokenVar + "="

// Snapshot is one scan of /proc: every live process with its parent, group, session and job token. One
// snapshot answers Members for any number of jobs; processes started after it are not in it.
type Snapshot struct {
	pids     []int // in /proc's order
	stats    map[int]stat
	tokens   map[int]string // TokenVar's value in each process's environment, where it has one
	children map[int][]int
}

// Scan reads every process's stat and environment once. This process (the agent, or the CLI running KillAll)
// and init are left out, so they are never members.
func Scan() *Snapshot {
	s := &Snapshot{stats: map[int]stat{}, tokens: map[int]string{}, children: map[int][]int{}}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return s
	}
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 1 || pid == self {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.State == 'Z' || st.State == 'X' {
			continue
		}
		s.pids = append(s.pids, pid)
		s.stats[pid] = st
		s.children[st.PPID] = append(s.children[st.PPID], pid)
		if tok, ok := envToken(pid); ok {
			s.tokens[pid] = tok
		}
	}
	return s
}

// envToken returns TokenVar's value in the environment of pid. A process of another user is unreadable, and so
// never a member: the agent could not signal it anyway.
func envToken(pid int) (string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return "", false
	}
	var i int
	if bytes.HasPrefix(b, []byte(tokenEntry[1:])) {
		i = len(tokenEntry) - 1
	} else if j := bytes.Index(b, []byte(tokenEntry)); j >= 0 {
		i = j + len(tokenEntry)
	} else {
		return "", false
	}
	v := b[i:]
	if end := bytes.IndexByte(v, 0); end >= 0 {
		v = v[:end]
	}
	return string(v), true
}

// Members returns the job's live processes in the snapshot: the wrapper, whatever is still in its session and
// process group, every process that carries the job's token, and every descendant of those.
func (s *Snapshot) Members(j Job) []member {
	var roots []int
	for _, pid := range s.pids {
		st := s.stats[pid]
		switch {
		case pid == j.PID && st.StartTicks == j.StartTicks,
			st.PGRP == j.PID && st.SID == j.PID,
			j.Token != "" && s.tokens[pid] == j.Token:
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
		st := s.stats[pid]
		out = append(out, member{pid: pid, ticks: st.StartTicks, inGroup: st.PGRP == j.PID && st.SID == j.PID})
		queue = append(queue, s.children[pid]...)
	}
	return out
}

// Members returns the job's live processes now (Snapshot.Members of a fresh Scan).
func (j Job) Members() []member { return Scan().Members(j) }

// Running reports whether any process of the job is alive.
func (j Job) Running() bool { return len(j.Members()) > 0 }

// Signal sends sig once to every live process of the job and returns how many it found; a job that is gone is
// not an error. The job's own process group is signalled at once (kill(-pgid)), as a terminal would: signalled
// one by one, a script could see its child die and exit 0 before its own signal arrived. The processes that
// left the group follow, parents before children.
func (j Job) Signal(sig syscall.Signal) (int, error) { return Scan().Signal(j, sig) }

// Signal is Job.Signal for the job's members in the snapshot.
func (s *Snapshot) Signal(j Job, sig syscall.Signal) (int, error) {
	if j.PID <= 1 {
		return 0, fmt.Errorf("refusing to signal job process %d", j.PID)
	}
	members := s.Members(j)
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
		if err := SignalProcess(m.pid, m.ticks, sig); err != nil {
			errs = append(errs, err)
		}
	}
	return len(members), errors.Join(errs...)
}

// Kill sends SIGKILL to the job's processes until none is left (a process may fork between the scan and the
// signal; its child carries the token and is found by the next scan), or the time is up. Each round scans
// /proc once.
func (j Job) Kill(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		n, err := j.Signal(syscall.SIGKILL)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("job process %d: %d processes survived SIGKILL", j.PID, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// SignalProcess sends sig to the process (pid, ticks) through a pidfd opened after checking the start time, so
// a pid reused since the caller identified the process is never hit. A process that is gone is not an error.
func SignalProcess(pid int, ticks uint64, sig syscall.Signal) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ENOSYS) {
		// Kernels before 5.3: the window between the check and kill is all there is.
		if Alive(pid, ticks) {
			err = syscall.Kill(pid, sig)
		}
		return ignoreGone(pid, err)
	}
	if err != nil {
		return ignoreGone(pid, err)
	}
	defer unix.Close(fd)
	if !Alive(pid, ticks) {
		return nil
	}
	return ignoreGone(pid, unix.PidfdSendSignal(fd, sig, nil, 0))
}

// StopProcess sends SIGTERM to the process (pid, ticks), then SIGKILL when it is still there after grace, and
// returns once it is gone, or an error when it survives SIGKILL by grace as well.
func StopProcess(pid int, ticks uint64, grace time.Duration) error {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		if err := SignalProcess(pid, ticks, sig); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		err := WaitExit(ctx, pid, ticks)
		cancel()
		if err == nil || !Alive(pid, ticks) {
			return nil
		}
	}
	return fmt.Errorf("process %d survived SIGKILL", pid)
}

func ignoreGone(pid int, err error) error {
	if err == nil || errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return fmt.Errorf("signal process %d: %w", pid, err)
}
