package cli

import (
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams holds the standard streams of a command and what is known about the terminal behind them.
// Data goes to Out; progress, notices and errors go to ErrOut.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdoutTTY bool
	stderrTTY bool
	stdinTTY  bool
	color     bool
}

// System returns IOStreams bound to the process's standard streams, with TTY detection and NO_COLOR honoured.
func System() *IOStreams {
	s := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	s.stdoutTTY = isTerminal(os.Stdout)
	s.stderrTTY = isTerminal(os.Stderr)
	s.stdinTTY = isTerminal(os.Stdin)
	s.color = s.stdoutTTY && colorAllowed(os.Getenv)
	return s
}

// Test returns IOStreams over in-memory buffers, as used by command tests. Nothing is a TTY unless set.
func Test(in io.Reader, out, errOut io.Writer) *IOStreams {
	return &IOStreams{In: in, Out: out, ErrOut: errOut}
}

// SetTTY marks all three streams as terminals (or not), for tests of TTY behaviour.
func (s *IOStreams) SetTTY(tty bool) {
	s.stdoutTTY, s.stderrTTY, s.stdinTTY = tty, tty, tty
	s.color = tty && colorAllowed(os.Getenv)
}

// IsStdoutTTY reports whether standard output is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether standard error is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// CanPrompt reports whether the user can be asked a question interactively.
func (s *IOStreams) CanPrompt() bool { return s.stdinTTY && s.stderrTTY }

// ColorEnabled reports whether output may carry ANSI colour.
func (s *IOStreams) ColorEnabled() bool { return s.color }

func colorAllowed(getenv func(string) string) bool {
	if _, set := lookup(getenv, "NO_COLOR"); set {
		return false
	}
	return getenv("TERM") != "dumb"
}

func lookup(getenv func(string) string, key string) (string, bool) {
	v := getenv(key)
	return v, v != ""
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
