package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/stix-run/stix/internal/transport"
)

// outputGrace bounds how long Run waits for the output of a command's background children after the command
// itself exited (`cmd &` keeps the pipes open); ssh would wait forever, which only hangs the caller.
const outputGrace = 2 * time.Second

// shell returns bash when the machine has it (SkyPilot's run and setup scripts are bash), else sh.
var shell = sync.OnceValue(func() string {
	if p, err := exec.LookPath("bash"); err == nil {
		return p
	}
	return "/bin/sh"
})

// Run runs cmd in the node's shell, in its own process group so that ending ctx kills the children too.
func (t *Transport) Run(ctx context.Context, cmd string, opts transport.RunOptions) (int, error) {
	c := exec.CommandContext(ctx, shell(), "-c", cmd)
	c.Dir = t.Resolve(opts.Dir)
	c.Env = append(append(os.Environ(), "HOME="+t.home), opts.Env...)
	c.Stdin, c.Stdout, c.Stderr = opts.Stdin, opts.Stdout, opts.Stderr
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = outputGrace
	err := c.Run()
	if ctx.Err() != nil {
		return -1, fmt.Errorf("run on local node %s: %w", t.home, ctx.Err())
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil, errors.Is(err, exec.ErrWaitDelay):
		return exitCode(c.ProcessState), nil
	case errors.As(err, &exitErr):
		return exitCode(exitErr.ProcessState), nil
	default:
		return -1, fmt.Errorf("run on local node %s: %w", t.home, err)
	}
}

// exitCode is the shell's convention: the exit status, or 128+N for a process killed by signal N.
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
