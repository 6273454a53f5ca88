package cli

import (
	"errors"
	"fmt"
)

// Exit codes of the stix CLI. They are SkyPilot's where SkyPilot defines one (logs --status).
const (
	ExitOK        = 0
	ExitFailure   = 1 // any failure: bad input, failed operation
	ExitUsage     = 2 // bad flags or arguments
	ExitCancelled = 130

	// Exit codes of `stix logs --status` (and of a foreground launch/exec, which ends with the job's status).
	ExitJobSucceeded   = 0
	ExitJobFailed      = 100
	ExitJobNotFinished = 101
	ExitJobNotFound    = 102
	ExitJobCancelled   = 103
)

// ExitError ends a command with a given exit code. A nil Err means the message was already printed.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// SilentExit ends a command with code after it has printed everything it had to say.
func SilentExit(code int) error { return &ExitError{Code: code} }

// ErrNotImplemented is returned by verbs whose capability is not built yet.
var ErrNotImplemented = errors.New("not implemented yet")

// NotImplemented is the error of a verb whose capability stix does not have yet. It exits 1: never a silent success.
func NotImplemented(verb string) error {
	return fmt.Errorf("stix %s: %w", verb, ErrNotImplemented)
}

// FlagError is a usage error: bad flags or arguments. It exits 2 and prints the usage hint.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// FlagErrorf builds a FlagError.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{Err: fmt.Errorf(format, args...)}
}
