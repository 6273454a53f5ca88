package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/stix-run/stix/internal/transport"
)

// killWait bounds how long a cancelled Run waits for the remote pid before it only closes the session.
const killWait = 5 * time.Second

// Run runs cmd on the node in a session of the shared connection. The environment is set with `export` in the
// script rather than with SSH env requests, which sshd refuses unless AcceptEnv lists each name. The login
// shell (sshd makes it a session and process-group leader) prints its pid, then execs bash -c (sh -c without
// bash): ending ctx kills that process group through a second session.
func (t *Transport) Run(ctx context.Context, cmd string, opts transport.RunOptions) (int, error) {
	script, err := t.script(cmd, opts)
	if err != nil {
		return -1, err
	}
	if err := ctx.Err(); err != nil {
		return -1, fmt.Errorf("run on %s: %w", t.Addr(), err)
	}
	s, err := t.client.NewSession()
	if err != nil {
		return -1, fmt.Errorf("run on %s: open session: %w", t.Addr(), err)
	}
	defer s.Close()
	out := opts.Stdout
	if out == nil {
		out = io.Discard
	}
	pw := &pidWriter{w: out, pid: make(chan int, 1)}
	s.Stdout, s.Stderr, s.Stdin = pw, opts.Stderr, opts.Stdin
	// The login shell has read the user's startup files already; --norc keeps bash from reading them again
	// (it does for commands run by sshd), which would double the cost of every command.
	wrapper := `echo $$; s=` + transport.Quote(script) + `; command -v bash >/dev/null && exec bash --norc -c "$s"; exec /bin/sh -c "$s"`
	if err := s.Start(wrapper); err != nil {
		return -1, fmt.Errorf("run on %s: %w", t.Addr(), err)
	}
	waited := make(chan error, 1)
	go func() { waited <- s.Wait() }()
	select {
	case err = <-waited:
	case <-ctx.Done():
		t.kill(pw.pid)
		s.Close()
		<-waited
		return -1, fmt.Errorf("run on %s: %w", t.Addr(), ctx.Err())
	}
	var exitErr *ssh.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exitErr) && exitErr.Signal() != "":
		return 128 + signalNumber(exitErr.Signal()), nil
	case errors.As(err, &exitErr):
		return exitErr.ExitStatus(), nil
	default:
		return -1, fmt.Errorf("run on %s: %w (the connection may have dropped)", t.Addr(), err)
	}
}

// script is what bash runs: cd to the working directory, export the environment, then the command.
func (t *Transport) script(cmd string, opts transport.RunOptions) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "cd %s || exit 1\n", transport.Quote(t.Resolve(opts.Dir)))
	for _, kv := range opts.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !validName(k) {
			return "", fmt.Errorf("run on %s: environment entry %q is not NAME=value with a shell variable name", t.Addr(), kv)
		}
		fmt.Fprintf(&b, "export %s=%s\n", k, transport.Quote(v))
	}
	b.WriteString(cmd)
	return b.String(), nil
}

// kill ends the process group of a cancelled command, through a second session: a closed channel alone leaves
// the remote command running until it writes.
func (t *Transport) kill(pidc <-chan int) {
	var pid int
	select {
	case pid = <-pidc:
	case <-time.After(killWait):
		return
	}
	s, err := t.client.NewSession()
	if err != nil {
		return
	}
	defer s.Close()
	p := strconv.Itoa(pid)
	_ = s.Run("kill -KILL -- -" + p + " 2>/dev/null || kill -KILL " + p)
}

// pidWriter takes the first line of the output (the pid the wrapper prints) and passes the rest on.
type pidWriter struct {
	w    io.Writer
	pid  chan int
	line []byte
	done bool
}

func (p *pidWriter) Write(b []byte) (int, error) {
	if p.done {
		return p.w.Write(b)
	}
	n := len(b)
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		p.line = append(p.line, b...)
		return n, nil
	}
	p.line = append(p.line, b[:i]...)
	p.done = true
	if pid, err := strconv.Atoi(string(p.line)); err == nil && pid > 0 {
		p.pid <- pid
	}
	if rest := b[i+1:]; len(rest) > 0 {
		if _, err := p.w.Write(rest); err != nil {
			return n, err
		}
	}
	return n, nil
}

// validName reports whether k is a shell variable name.
func validName(k string) bool {
	if k == "" {
		return false
	}
	for i, c := range k {
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// signalNumber maps an SSH signal name ("KILL") to its Linux number, 0 when unknown.
func signalNumber(name string) int {
	return int(unix.SignalNum("SIG" + name))
}
