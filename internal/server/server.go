// Package server is stix's API server: the api.Client calls as HTTP routes under /api/v1, run by the embedded
// core in this one process. Reads answer at once; every call that changes something becomes a request with an
// ID, recorded in the state database (internal/store: SQLite, or PostgreSQL shared by several servers) with its
// events and outcome, run by the one server process holding its lease, run whatever happens to the client, cancellable, and streamed to whoever follows it. See
// docs/server.md; api/openapi.yaml documents the routes.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/dashboard"
	"github.com/stix-run/stix/internal/store"
)

// MaxBodyBytes bounds a request body: a task of api.MaxTaskBytes, with room for JSON's escaping of it.
const MaxBodyBytes = 2 * api.MaxTaskBytes

// Options configure a Server.
type Options struct {
	// Dir is the server's own directory ($STIX_HOME/server): its pid and endpoint files.
	Dir string
	// State is the state database the requests are recorded in (the core's: SQLite under State.Home, or
	// PostgreSQL); SQLite under Dir when it is empty.
	State store.Location
	// LeaseTTL is the life of a request's lease unless renewed (DefaultLeaseTTL when zero): how long a request
	// of a killed server stays RUNNING before a server sharing the database ends it.
	LeaseTTL time.Duration
	// Client is the core the server runs calls on (the embedded client over $STIX_HOME).
	Client api.Client
	// Version and Commit are what /api/health reports.
	Version, Commit string
	// Log is the server's structured log; slog.Default() when nil.
	Log *slog.Logger
	// Uploads, when set, serves the upload protocol (internal/upload's handler) under /api/v1/uploads/; it sees
	// paths relative to that prefix ("/missing", "/blobs/<sha256>").
	Uploads http.Handler
	// UploadRoutes are the routes Uploads serves, "METHOD /path" under its prefix (internal/upload's Routes), for
	// Routes and so the OpenAPI check.
	UploadRoutes []string
	// LogFile is the file the server logs to, served by /api/v1/server/logs; empty when it logs to stderr.
	LogFile string
	// Auth is how callers authenticate (api_server.auth and rbac in the server's config); see docs/auth.md.
	Auth auth.Config
	// WorkspaceAccess, when set, returns an error (a 403) when the caller (auth.From(ctx)) may not use the
	// workspace: a user's status leaves out the clusters of such workspaces, and acting on one is refused.
	// Admins are never asked about. Nil: every workspace is open.
	WorkspaceAccess func(ctx context.Context, workspace string) error
	// UploadDir is the directory Uploads keeps its trees in, which garbage collection sweeps; empty: none.
	UploadDir string
	// GC says what garbage collection keeps and how often it runs (gc.go).
	GC GCOptions
	// DashboardSessionTTL is how long a browser's login to the dashboard lasts (dashboard.DefaultSessionTTL
	// when zero).
	DashboardSessionTTL time.Duration
	// InfraStatus, when set, is what `stix check` finds now without recording it or calling a provider, with the
	// enabled set recorded last (embedded.Client.InfraStatus): the dashboard's infra page.
	InfraStatus func(ctx context.Context) (api.CheckResult, error)
	// Config, when set, reads the server's config as it stands (config.Config.ToMap): the dashboard's config
	// and workspaces pages, for admins, with secret values hidden (redactConfig).
	Config func(ctx context.Context) (map[string]any, error)
	// DashboardStateInterval is how often the dashboard's clusters list reads the states again for its live
	// updates (dashboard.DefaultStateInterval when zero).
	DashboardStateInterval time.Duration
	// DashboardNow is the dashboard's clock (time.Now when nil): tests move it past a session's end.
	DashboardNow func() time.Time
}

// legacyRequestsFile is where stix recorded a server's requests before they moved to the state database.
const legacyRequestsFile = "requests.db"

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Server serves the API. Make one with New; Close it.
type Server struct {
	opts Options
	log  *slog.Logger
	reqs *requests
	// state is the database reqs records in; sweeping counts the goroutines that end dead servers' requests and
	// collect garbage.
	state    store.Store
	sweeping sync.WaitGroup
	// metrics are served by GET /metrics (metrics.go).
	metrics *serverMetrics
	// base is the context requests run under: cancelled by Close.
	base    context.Context
	stopAll context.CancelCauseFunc
	mux     *http.ServeMux
	routes  []string
	tokens  *auth.Tokens
	authn   *auth.Authenticator
	// sessions are the dashboard's logins, in the state database.
	sessions *dashboard.Sessions

	closeOnce sync.Once
	closeErr  error
}

// New opens the server's request database, ends the requests a previous process left in flight (they FAIL
// with code server_restarted), and registers the routes.
func New(ctx context.Context, opts Options) (*Server, error) {
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	log = slog.New(idHandler{log.Handler()})
	loc := opts.State
	if loc.Home == "" && loc.DB == "" {
		loc.Home = opts.Dir
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = DefaultLeaseTTL
	}
	st, err := store.OpenAt(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("open the API server's request database: %w", err)
	}
	reqs, ended, err := openRequests(ctx, st, opts.Dir, opts.LeaseTTL)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("open the API server's request database: %w", err)
	}
	if ended > 0 {
		log.Warn("requests left in flight by a previous server process marked FAILED", "count", ended)
	}
	if old := filepath.Join(opts.Dir, legacyRequestsFile); fileExists(old) {
		log.Warn("requests recorded by an older stix are not imported: they are history only (the clusters are in the "+
			"state database) and past the requests' retention; delete the file once it is no longer wanted", "file", old)
	}
	base, stop := context.WithCancelCause(context.WithoutCancel(ctx))
	s := &Server{opts: opts, log: log, reqs: reqs, state: st, base: base, stopAll: stop, mux: http.NewServeMux()}
	if s.sessions, err = dashboard.OpenSessions(st); err != nil {
		stop(errServerStopped)
		return nil, errors.Join(err, reqs.shutdown(ctx), st.Close())
	}
	if err := s.openAuth(ctx); err != nil {
		stop(errServerStopped)
		return nil, errors.Join(err, reqs.shutdown(ctx), st.Close())
	}
	s.sweeping.Add(1)
	go func() { defer s.sweeping.Done(); reqs.sweep(base, log) }()
	if every := orDefault(opts.GC.Interval, DefaultGCInterval); every > 0 {
		s.sweeping.Add(1)
		go func() { defer s.sweeping.Done(); s.collectEvery(base, every) }()
	}
	s.metrics = newServerMetrics(base, s.mux, log, opts.Client, opts.Version, opts.Commit)
	reqs.metrics = s.metrics
	s.register()
	return s, nil
}

// Close cancels the requests in flight (they end CANCELLED, saying the server stopped), waits for them to end
// (at most until ctx is done: those still running are then marked FAILED) and closes the database. Calls after
// the first return its result.
func (s *Server) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.stopAll(errServerStopped)
		err := s.reqs.shutdown(ctx)
		s.sweeping.Wait()
		s.closeErr = errors.Join(err, s.state.Close())
	})
	return s.closeErr
}

// Routes lists the registered routes as "METHOD /path/{param}" (the OpenAPI test checks them).
func (s *Server) Routes() []string { return s.routes }

// Handler is the server's HTTP handler: the routes behind the authentication and logging middleware.
func (s *Server) Handler() http.Handler {
	return s.withAuth(s.logRequests(s.mux))
}

// handle registers a route; one whose path names a {cluster} answers only a caller who may act on it.
func (s *Server) handle(pattern string, h http.HandlerFunc) {
	if strings.Contains(pattern, "{cluster}") {
		h = s.withClusterCheck(h)
	}
	s.routes = append(s.routes, pattern)
	s.mux.HandleFunc(pattern, h)
}

// UserFrom returns the user a request acts as.
func UserFrom(ctx context.Context) string { return identity(ctx).Name }

// recorder keeps a response's status and the request ID a route names, for the access log.
type recorder struct {
	http.ResponseWriter
	status    int
	requestID string
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// setRequestID names the request a route submitted or reads, in the access log line.
func setRequestID(w http.ResponseWriter, id string) {
	for {
		switch rw := w.(type) {
		case *recorder:
			rw.requestID = id
			return
		case interface{ Unwrap() http.ResponseWriter }:
			w = rw.Unwrap()
		default:
			return
		}
	}
}

// logRequests gives every HTTP request an ID (logging.go), logs it (method, path, status, duration, user, its
// ID, and the request ID when the route has one), counts it in the metrics, and turns a panic in a route into a
// 500 error, so that the server keeps serving.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		r = withHTTPID(w, r)
		s.metrics.httpStarted()
		// Deferred first, so run last, even when an aborted handler's panic goes on up.
		defer func() { s.metrics.httpEnded(r, rec.status, rec.Header().Get("Content-Type"), time.Since(start)) }()
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.ErrorContext(r.Context(), "panic in route", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
				if rec.status == 0 {
					writeError(rec, &api.Error{Code: api.CodeFailed, Status: 500, Message: fmt.Sprintf("internal error: %v", p)})
				}
			}
			attrs := []any{"method", r.Method, "path", r.URL.Path, "status", rec.status,
				"duration_ms", time.Since(start).Milliseconds(), "user", UserFrom(r.Context())}
			if rec.requestID != "" {
				attrs = append(attrs, "request_id", rec.requestID)
			}
			s.log.InfoContext(r.Context(), "http", attrs...)
		}()
		next.ServeHTTP(rec, r)
	})
}

// writeJSON sends v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError sends err as an api.Error with its status (500 for an error of the core without one).
func writeError(w http.ResponseWriter, err error) {
	e := api.WireError(err)
	status := e.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if status == 499 { // the caller went away; nobody reads this
		status = http.StatusRequestTimeout
	}
	writeJSON(w, status, e)
}

// badRequest is a 400 error.
func badRequest(format string, args ...any) *api.Error {
	return &api.Error{Code: api.CodeBadRequest, Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// decode reads r's JSON body into v, refusing a body over MaxBodyBytes (413), malformed JSON and unknown
// fields (400).
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return &api.Error{Code: api.CodeTooLarge, Status: http.StatusRequestEntityTooLarge,
			Message: fmt.Sprintf("the request body is over the %d MiB limit", MaxBodyBytes>>20),
			Hint:    "put data in workdir or file_mounts instead of the task's run, setup or envs"}
	case err != nil:
		return badRequest("malformed JSON body for %s %s: %v", r.Method, r.URL.Path, err)
	case dec.More():
		return badRequest("malformed JSON body for %s %s: more than one JSON value", r.Method, r.URL.Path)
	}
	return nil
}

// notFound answers every path no route has.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, &api.Error{Code: api.CodeNotFound, Status: http.StatusNotFound,
		Message: fmt.Sprintf("no route %s %s on this API server", r.Method, r.URL.Path),
		Hint:    "api/openapi.yaml lists the routes; is the CLI newer than the server? (`stix api info`)"})
}

// health answers GET /api/health.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, api.Health{Status: "healthy", Version: s.opts.Version, Commit: s.opts.Commit,
		User: UserFrom(r.Context())})
}
