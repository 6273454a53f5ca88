package agent

import (
	"errors"
	"fmt"
	"net/http"
)

// Error kinds shared by the server (which maps them to HTTP status codes) and the client (which maps the codes
// back), so callers test with errors.Is on either side of the wire.
var (
	ErrNotFound     = errors.New("not found")
	ErrInvalid      = errors.New("invalid request")
	ErrConflict     = errors.New("conflict")
	ErrUnauthorized = errors.New("unauthorized: wrong or missing agent secret")
	ErrTooLarge     = errors.New("request body too large")
)

// APIError is an error response from an agent.
type APIError struct {
	StatusCode int
	Message    string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("agent: %s (HTTP %d)", e.Message, e.StatusCode)
}

// Is lets errors.Is(err, ErrNotFound) and friends work on errors that crossed the wire.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrInvalid:
		return e.StatusCode == http.StatusBadRequest
	case ErrConflict:
		return e.StatusCode == http.StatusConflict
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrTooLarge:
		return e.StatusCode == http.StatusRequestEntityTooLarge
	}
	return false
}

// httpStatus maps an error to its response code.
func httpStatus(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}
