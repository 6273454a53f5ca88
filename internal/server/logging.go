package server

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/stix-run/stix/api"
)

// HeaderHTTPID carries an HTTP request's ID: the server answers it on every response, taking the caller's
// (a proxy's) when it sends a well-formed one.
const HeaderHTTPID = "X-Request-ID"

// httpIDKey is the context key of the HTTP request's ID.
type httpIDKey struct{}

// HTTPIDFrom returns the ID of the HTTP request ctx belongs to ("" outside one).
func HTTPIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(httpIDKey{}).(string)
	return id
}

// withHTTPID gives r an ID (the caller's X-Request-ID when well-formed, else a new one), answers it in the
// response's header and puts it in r's context, where the server's log finds it.
func withHTTPID(w http.ResponseWriter, r *http.Request) *http.Request {
	id := r.Header.Get(HeaderHTTPID)
	if !wellFormedID(id) {
		id = api.NewRequestID()
	}
	w.Header().Set(HeaderHTTPID, id)
	return r.WithContext(context.WithValue(r.Context(), httpIDKey{}, id))
}

// wellFormedID accepts 1 to 64 letters, digits and . _ : - (a UUID, a proxy's trace ID): anything else would
// make log lines that are hard to search, or could be used to forge them.
func wellFormedID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// idHandler adds the HTTP request's ID (http_id) to every record logged with a context that has one
// (log.InfoContext(r.Context(), ...)), so that every line a route logs names the HTTP request it came from.
type idHandler struct{ slog.Handler }

func (h idHandler) Handle(ctx context.Context, rec slog.Record) error {
	if id := HTTPIDFrom(ctx); id != "" {
		rec.AddAttrs(slog.String("http_id", id))
	}
	return h.Handler.Handle(ctx, rec)
}

func (h idHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return idHandler{h.Handler.WithAttrs(attrs)}
}

func (h idHandler) WithGroup(name string) slog.Handler { return idHandler{h.Handler.WithGroup(name)} }

// requestLog is the log of a request submitted by the HTTP request r: its lines carry the ID of the HTTP call
// that submitted it, with the request's own ID that run adds.
func (s *Server) requestLog(r *http.Request) *slog.Logger {
	if id := HTTPIDFrom(r.Context()); id != "" {
		return s.log.With("http_id", id)
	}
	return s.log
}
