package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Error codes of the API server's errors (Error.Code). They are stable: programs may switch on them.
const (
	CodeBadRequest      = "bad_request"       // malformed JSON, a bad parameter
	CodeTooLarge        = "too_large"         // a body over MaxTaskBytes, or a task over it
	CodeNotFound        = "not_found"         // no such route
	CodeRequestNotFound = "request_not_found" // no request with that ID
	CodeClusterNotFound = "cluster_not_found"
	CodeJobNotFound     = "job_not_found"
	// CodeManagedJobNotFound: no managed job with that ID or name (ManagedJobID, JobName).
	CodeManagedJobNotFound = "managed_job_not_found"
	// CodeServiceNotFound: no service of that name (Service).
	CodeServiceNotFound = "service_not_found"
	// CodePoolNotFound: no pool of that name (Pool).
	CodePoolNotFound    = "pool_not_found"
	CodeInvalidTask     = "invalid_task" // the task has errors (TaskErrors)
	CodeCancelled       = "cancelled"    // the request was cancelled
	CodeServerRestarted = "server_restarted"
	CodeForbidden       = "forbidden" // e.g. a listen address beyond loopback without --trusted-network
	CodeFailed          = "failed"    // the operation failed; Message says why
	// CodeUnsupported: the infra cannot do what was asked (WatchCluster on infra without node events); the
	// client's error wraps errors.ErrUnsupported.
	CodeUnsupported = "unsupported"
)

// Error is the API server's error, as every route sends it (with an HTTP status) and as a failed request
// records it. Code is stable, Message is for people, Hint says what to do. The fields after Hint carry what a
// typed error needs to be rebuilt on the client (see Err).
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`

	Cluster    string      `json:"cluster,omitempty"`
	JobID      int         `json:"job_id,omitempty"`
	TaskErrors []TaskError `json:"task_errors,omitempty"`
	// ManagedJobID and JobName name the managed job of a managed_job_not_found error.
	ManagedJobID int64  `json:"managed_job_id,omitempty"`
	JobName      string `json:"job_name,omitempty"`
	// Service names the service of a service_not_found error.
	Service string `json:"service,omitempty"`
	// Pool names the pool of a pool_not_found error.
	Pool string `json:"pool,omitempty"`
	// Status is the HTTP status the error was sent with; not on the wire.
	Status int `json:"-"`
}

func (e *Error) Error() string {
	if e.Hint == "" {
		return e.Message
	}
	return e.Message + " (" + e.Hint + ")"
}

// Err returns the error the core returned, rebuilt from the wire: *ClusterNotFoundError, *JobNotFoundError,
// *ManagedJobNotFoundError, *ServiceNotFoundError, *PoolNotFoundError, TaskErrors, context.Canceled or errors.ErrUnsupported (wrapped), or the *Error itself.
func (e *Error) Err() error {
	switch e.Code {
	case CodeClusterNotFound:
		return &ClusterNotFoundError{Name: e.Cluster}
	case CodeJobNotFound:
		return &JobNotFoundError{Cluster: e.Cluster, ID: e.JobID}
	case CodeManagedJobNotFound:
		return &ManagedJobNotFoundError{ID: e.ManagedJobID, Name: e.JobName}
	case CodeServiceNotFound:
		return &ServiceNotFoundError{Name: e.Service}
	case CodePoolNotFound:
		return &PoolNotFoundError{Name: e.Pool}
	case CodeInvalidTask:
		if len(e.TaskErrors) > 0 {
			return TaskErrors(e.TaskErrors)
		}
	case CodeCancelled:
		return fmt.Errorf("%s: %w", e.Message, context.Canceled)
	case CodeUnsupported:
		return fmt.Errorf("%s: %w", e.Message, errors.ErrUnsupported)
	}
	return e
}

// WireError turns an error of the core into the Error the server sends, with its HTTP status.
func WireError(err error) *Error {
	var (
		we  *Error
		cnf *ClusterNotFoundError
		jnf *JobNotFoundError
		mnf *ManagedJobNotFoundError
		snf *ServiceNotFoundError
		pnf *PoolNotFoundError
		te  TaskErrors
		tl  *TooLargeError
	)
	switch {
	case errors.As(err, &we):
		return we
	case errors.As(err, &cnf):
		return &Error{Code: CodeClusterNotFound, Message: err.Error(), Cluster: cnf.Name, Status: http.StatusNotFound}
	case errors.As(err, &jnf):
		return &Error{Code: CodeJobNotFound, Message: err.Error(), Cluster: jnf.Cluster, JobID: jnf.ID, Status: http.StatusNotFound}
	case errors.As(err, &mnf):
		return &Error{Code: CodeManagedJobNotFound, Message: err.Error(), ManagedJobID: mnf.ID, JobName: mnf.Name, Status: http.StatusNotFound}
	case errors.As(err, &snf):
		return &Error{Code: CodeServiceNotFound, Message: err.Error(), Service: snf.Name, Status: http.StatusNotFound}
	case errors.As(err, &pnf):
		return &Error{Code: CodePoolNotFound, Message: err.Error(), Pool: pnf.Name, Status: http.StatusNotFound}
	case errors.As(err, &te):
		return &Error{Code: CodeInvalidTask, Message: err.Error(), TaskErrors: te, Status: http.StatusBadRequest}
	case errors.As(err, &tl):
		return &Error{Code: CodeTooLarge, Message: err.Error(), Status: http.StatusRequestEntityTooLarge}
	case errors.Is(err, context.Canceled):
		return &Error{Code: CodeCancelled, Message: err.Error(), Status: 499}
	case errors.Is(err, errors.ErrUnsupported):
		return &Error{Code: CodeUnsupported, Message: strings.TrimSuffix(err.Error(), ": "+errors.ErrUnsupported.Error()), Status: http.StatusNotImplemented}
	}
	return &Error{Code: CodeFailed, Message: err.Error(), Status: http.StatusInternalServerError}
}

// DetachedError is what an HTTP client's Operation returns when its caller's context ends before the request
// does: the request goes on on the server, as SkyPilot's Ctrl-C detaches. It wraps context.Canceled.
type DetachedError struct{ ID string }

func (e *DetachedError) Error() string {
	return fmt.Sprintf("detached from request %s, which goes on on the API server: follow it with `stix api logs %s`, "+
		"cancel it with `stix api cancel %s`", e.ID, e.ID, e.ID)
}

func (e *DetachedError) Unwrap() error { return context.Canceled }
