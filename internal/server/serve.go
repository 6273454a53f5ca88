package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/stix-run/stix/api"
)

// registerServe adds the `stix serve` routes: up, update and down become requests, run by the server's serve
// controller as the caller; status and logs are reads. A user sees and acts on their own services only (the
// controller's rule, as managed jobs'); ?all_users=true is for admins.
func (s *Server) registerServe() {
	c := s.opts.Client
	s.handle("POST /api/v1/serve/up", submit(s, "serve_up", func(ctx context.Context, b api.ServeUpRequest) (operation, error) {
		return op(withServeController(c.ServeUp(ctx, b)))
	}, nil))
	s.handle("POST /api/v1/serve/update", submit(s, "serve_update", func(ctx context.Context, b api.ServeUpdateRequest) (operation, error) {
		return op(withServeController(c.ServeUpdate(ctx, b)))
	}, nil))
	s.handle("POST /api/v1/serve/down", s.serveDown)
	s.handle("GET /api/v1/serve", query(func(ctx context.Context, r *http.Request) (any, error) {
		all, err := allUsers(r)
		if err != nil {
			return nil, err
		}
		if all {
			ctx = api.WithAllUsers(ctx)
		}
		ss, err := withServeController(c.ServeStatus(ctx, r.URL.Query()["service_name"]))
		if ss == nil {
			ss = []api.Service{}
		}
		return ss, err
	}))
	s.handle("GET /api/v1/serve/{name}/logs", s.serveLogs)
}

// serveDown submits a serve_down request; ?all_users=true (`-a` reaching every user's services) needs an
// admin, checked before anything is recorded.
func (s *Server) serveDown(w http.ResponseWriter, r *http.Request) {
	all, err := allUsers(r)
	if err != nil {
		writeError(w, err)
		return
	}
	submit(s, "serve_down", func(ctx context.Context, b api.ServeDownRequest) (operation, error) {
		if all {
			ctx = api.WithAllUsers(ctx)
		}
		return op(withServeController(s.opts.Client.ServeDown(ctx, b)))
	}, nil)(w, r)
}

// serveLogs streams a service's log as NDJSON (api.LogLine), ended by {"tasks": []} (or the error that ended
// it). ?offset=N skips the first N bytes.
func (s *Server) serveLogs(w http.ResponseWriter, r *http.Request) {
	skip, err := optInt(r, "offset")
	if err != nil {
		writeError(w, err)
		return
	}
	opts := api.ServeLogsOptions{Follow: boolParam(r, "follow"), Controller: boolParam(r, "controller"), LoadBalancer: boolParam(r, "load_balancer")}
	if opts.ReplicaID, err = optInt(r, "replica_id"); err != nil {
		writeError(w, err)
		return
	}
	if opts.Tail, err = optInt(r, "tail"); err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	lw := &logWriter{enc: json.NewEncoder(w), flush: http.NewResponseController(w).Flush, skip: int64(skip)}
	if _, err := withServeController(struct{}{}, s.opts.Client.ServeLogs(r.Context(), r.PathValue("name"), opts, lw)); err != nil {
		_ = lw.enc.Encode(api.LogLine{Offset: lw.offset, Error: api.WireError(err)})
		return
	}
	_ = lw.enc.Encode(api.LogLine{Offset: lw.offset, Tasks: []api.ManagedJob{}})
}

// withServeController turns the core's "needs a server" (a server whose client has no serve controller) into
// an answer that says so, rather than telling the server's client to start a server.
func withServeController[T any](v T, err error) (T, error) {
	var ns *api.NeedsServerError
	if errors.As(err, &ns) {
		return v, &api.Error{Code: api.CodeFailed, Status: http.StatusNotImplemented,
			Message: "this API server runs no serve controller",
			Hint:    "upgrade the API server to a stix that runs services (`stix api info` shows its version)"}
	}
	return v, err
}
