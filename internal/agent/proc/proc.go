// Package proc starts job processes that outlive the agent and finds them again after an agent restart.
//
// A job process is `bash` running a script file, wrapped by a second bash that leads its own session and
// process group (setsid), writes the script's exit code to an rc file atomically when it ends, and sends all
// output straight to a log file. Nothing of it goes through the agent, so `kill -9` of the agent loses nothing:
// a restarted agent identifies the process by pid and start time (pid reuse cannot fool it), waits for it with a
// pidfd, and reads the rc file at the end. Every process the job starts carries the job's token in its
// environment, so the processes that leave the session (daemons) are found and killed with the job (Job).
package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// wrapper runs the script ($1) and records its exit code in $2. The trap is a handler, not an ignore, so the
// script's shell gets the default SIGTERM disposition back while the wrapper survives a group SIGTERM long
// enough to record the code (143).
const wrapper = `trap : TERM INT HUP
bash "$1"
rc=$?
printf '%d\n' "$rc" >"$2.tmp" && mv -f "$2.tmp" "$2"
exit "$rc"`

// Spec describes a process to start.
type Spec struct {
	Script     string   // bash source; written to ScriptPath
	Env        []string // the complete environment
	Dir        string   // working directory; must exist
	ScriptPath string
	LogPath    string // stdout and stderr, appended
	RCPath     string // the exit code lands here
	// Confine, when set, runs the process in a mount namespace that hides directories from it (confine.go).
	// ScriptPath and RCPath must then be in one directory, which may be hidden.
	Confine *Confine
}

// Process is a started job process, owned by this agent until Wait returns.
type Process struct {
	Job // PID is also its process group and session id
	// Unconfined says why the process runs without the confinement its Spec asked for ("" when it has it).
	Unconfined string
	cmd        *exec.Cmd
}

// Start writes the script and starts it detached in its own session, marked with a new token.
func Start(s Spec) (*Process, error) {
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(s.ScriptPath, []byte(s.Script), 0o600); err != nil {
		return nil, fmt.Errorf("write job script: %w", err)
	}
	logf, err := os.OpenFile(s.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open job log: %w", err)
	}
	defer logf.Close()
	var cmd *exec.Cmd
	var unconfined string
	if s.Confine != nil {
		cmd, unconfined, err = startConfined(s, token, logf)
	}
	if cmd == nil {
		cmd = startPlain(s, token, logf)
	}
	if cmd.Process == nil && err == nil {
		err = cmd.Start()
	}
	if err != nil {
		return nil, fmt.Errorf("start job process in %s: %w", s.Dir, err)
	}
	ticks, err := StartTicks(cmd.Process.Pid)
	if err != nil {
		// Cannot happen for our own unreaped child; kill it rather than run something we cannot track.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		return nil, fmt.Errorf("read start time of job process %d: %w", cmd.Process.Pid, err)
	}
	return &Process{Job: Job{PID: cmd.Process.Pid, StartTicks: ticks, Token: token}, Unconfined: unconfined, cmd: cmd}, nil
}

// Wait reaps the process and returns its exit code, 128+N when signal N killed it (as bash reports).
func (p *Process) Wait() int {
	_ = p.cmd.Wait() // a non-zero exit is an error here; the status itself is in ProcessState
	st := p.cmd.ProcessState
	if st == nil {
		return 255
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return st.ExitCode()
}

// stat is the part of /proc/PID/stat that identifies a process.
type stat struct {
	State           byte
	PPID, PGRP, SID int
	StartTicks      uint64
}

func readStat(pid int) (stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, err
	}
	return parseStat(string(b))
}

// parseStat reads "PID (COMM) STATE PPID PGRP SID ... STARTTIME ..."; COMM may hold spaces and parentheses, so
// the fields are counted from the last ')'.
func parseStat(s string) (stat, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return stat{}, errors.New("malformed /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return stat{}, errors.New("malformed /proc stat")
	}
	ppid, err0 := strconv.Atoi(f[1])
	pgrp, err1 := strconv.Atoi(f[2])
	sid, err2 := strconv.Atoi(f[3])
	start, err3 := strconv.ParseUint(f[19], 10, 64)
	if err := errors.Join(err0, err1, err2, err3); err != nil {
		return stat{}, fmt.Errorf("malformed /proc stat: %w", err)
	}
	return stat{State: f[0][0], PPID: ppid, PGRP: pgrp, SID: sid, StartTicks: start}, nil
}

// StartTicks returns the start time of pid in clock ticks since boot.
func StartTicks(pid int) (uint64, error) {
	st, err := readStat(pid)
	return st.StartTicks, err
}

// Alive reports whether pid is the process that started at ticks and has not exited (a zombie has exited).
func Alive(pid int, ticks uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := readStat(pid)
	return err == nil && st.StartTicks == ticks && st.State != 'Z' && st.State != 'X'
}

// WaitExit blocks until the process (pid, ticks) has exited or ctx ends. It is for processes that are not this
// agent's children (adopted after a restart): a pidfd becomes readable when the process exits.
func WaitExit(ctx context.Context, pid int, ticks uint64) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil
		}
		return pollExit(ctx, pid, ticks) // kernels before 5.3
	}
	defer unix.Close(fd)
	// Check identity after opening: if pid was reused before the open, this is another process.
	if !Alive(pid, ticks) {
		return nil
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		// A bounded timeout only so that ctx is honoured; the exit itself wakes poll at once.
		n, err := unix.Poll(fds, 1000)
		if n > 0 {
			return nil
		}
		if err != nil && !errors.Is(err, unix.EINTR) {
			return pollExit(ctx, pid, ticks)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

func pollExit(ctx context.Context, pid int, ticks uint64) error {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for Alive(pid, ticks) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// ReadRC returns the exit code recorded in an rc file; ok is false when there is none (yet).
func ReadRC(path string) (code int, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, false
	}
	return v, true
}
