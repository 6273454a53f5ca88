package upload

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Error is a refusal, with the JSON shape every error response of the upload API has:
// {"code": ..., "message": ..., "hint": ..., "missing": [...]}. Push returns it for an error response.
type Error struct {
	// Status is the HTTP status code.
	Status int `json:"-"`
	// Code is stable and machine-readable: bad_request, bad_manifest, bad_json, hash_mismatch, too_large,
	// missing_blobs, offset_mismatch, not_found, method_not_allowed, internal.
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	// Missing lists, for missing_blobs, the sha256 of every blob the manifest names that the server lacks.
	Missing []string `json:"missing,omitempty"`
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	if len(e.Missing) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(e.Missing, ", "))
	}
	if e.Hint != "" {
		b.WriteString("; ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// ErrNotFound is returned (wrapped) by Resolve for a tree the server does not hold.
var ErrNotFound = errors.New("upload tree not found")

// writeError sends e as a JSON error response.
func writeError(w http.ResponseWriter, e *Error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(e)
}

// writeJSON sends v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// badRequest is a 400 with code bad_request.
func badRequest(format string, a ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "bad_request", Message: fmt.Sprintf(format, a...)}
}

// internalError is a 500 that names what failed without leaking more than the operation.
func internalError(op string, err error) *Error {
	return &Error{Status: http.StatusInternalServerError, Code: "internal", Message: op + ": " + err.Error()}
}
