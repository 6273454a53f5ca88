// Package dashboard is the API server's web UI under /dashboard/: server-rendered pages (html/template, no
// JavaScript framework, nothing to build) of clusters, their jobs and live logs, managed jobs and services, with
// the actions stop, start, down and cancel. It reads and acts only through a Backend the API server gives it,
// with the caller's identity, so that a page shows and does exactly what the API would for that caller. It
// authenticates as the API server does (tokens, basic auth, the SSO proxy header), keeping a browser's login in
// a session cookie. See docs/dashboard.md.
package dashboard

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
)

// Prefix is the path the dashboard is served under, as SkyPilot's.
const Prefix = "/dashboard"

// Backend is what the dashboard reads and does, for the caller whose identity ctx carries (auth.From). Its
// implementation (the API server's) applies the API's permissions: a user sees and acts on their own resources.
type Backend interface {
	// Clusters lists the clusters the caller may see (an admin: all).
	Clusters(ctx context.Context) ([]api.Cluster, error)
	// Cluster returns one cluster: *api.ClusterNotFoundError when there is none, a 403 when it is not the caller's.
	Cluster(ctx context.Context, name string) (api.Cluster, error)
	// Nodes lists a cluster's recorded nodes, with the same check as Cluster.
	Nodes(ctx context.Context, cluster string) ([]api.ClusterNode, error)
	// CostReport lists the caller's clusters' costs so far (an admin: all).
	CostReport(ctx context.Context) ([]api.CostReportEntry, error)
	// Queue lists a cluster's jobs.
	Queue(ctx context.Context, cluster string) ([]api.Job, error)
	// Logs writes a job's output to w as it comes, until the job ends (follow) or the output so far is written.
	Logs(ctx context.Context, cluster string, id int, follow bool, w io.Writer) (api.Job, error)
	// ManagedJobs lists the caller's managed jobs (an admin: all); ids, when given, select jobs, with events.
	ManagedJobs(ctx context.Context, ids ...int64) ([]api.ManagedJob, error)
	// ManagedJobPage is one page of ManagedJobs: the tasks of the jobs q selects (its Status and Search), in its
	// order (newest first by default), from q.Offset to q.Offset+q.Limit, and how many jobs q selects in all.
	// A backend that cannot filter or sort returns an error wrapping errors.ErrUnsupported for such a q.
	ManagedJobPage(ctx context.Context, q api.JobsQueueOptions) ([]api.ManagedJob, int, error)
	// ManagedJobLogs writes a managed job's output to w, as Logs.
	ManagedJobLogs(ctx context.Context, id int64, follow bool, w io.Writer) error
	// Services lists the caller's services (an admin: all).
	Services(ctx context.Context) ([]api.Service, error)
	// Infra is what `stix check` finds now, reading files and variables only (no provider is called), with the
	// enabled set the last check recorded.
	Infra(ctx context.Context) (api.CheckResult, error)
	// KubernetesGPUs is `show-gpus --infra k8s`: the allowed contexts' nodes with GPUs, asked now (a call to
	// each context's API server).
	KubernetesGPUs(ctx context.Context) ([]api.AcceleratorCounts, error)
	// Requests lists the API server's requests f keeps, finished ones too, and how many there are before
	// f.Offset and f.Limit (one page of them): the caller's (an admin: everyone's), whatever f.AllUsers says.
	Requests(ctx context.Context, f api.RequestFilter) ([]api.Request, int, error)
	// RequestUsers counts each user's requests and finds their latest, in the store (admins: every user's).
	RequestUsers(ctx context.Context) ([]UserRequests, error)
	// Request returns one request and its events so far: a 403 when it is another user's.
	Request(ctx context.Context, id string) (api.Request, []api.Event, error)
	// Tokens lists the service-account tokens; CreateToken and RevokeToken change them. Admins only: the API's
	// 403 for a user.
	Tokens(ctx context.Context) ([]api.TokenInfo, error)
	CreateToken(ctx context.Context, req api.TokenRequest) (api.CreatedToken, error)
	RevokeToken(ctx context.Context, name string) error
	// Config is the server's config with secret values hidden (admins only: a 403 for a user).
	Config(ctx context.Context) (map[string]any, error)
	// Submit makes the API call POST path with body as the caller (the request an action is) and returns the
	// request's ID, or the API's error (a 403 for another user's resource).
	Submit(ctx context.Context, path string, body any) (string, error)
}

// UserRequests is one user's requests on record: how many, and when the latest was made.
type UserRequests struct {
	User   string
	Count  int
	Latest time.Time
}

// Options configure the dashboard.
type Options struct {
	Backend Backend
	// Authenticate identifies the caller of a request as the API server does (auth.Authenticator).
	Authenticate func(ctx context.Context, r *http.Request) (auth.Identity, error)
	// BasicAuth says the server accepts basic auth: the login page asks for a user name and password too.
	BasicAuth bool
	// LocalUser names the caller of a server without authentication whose browser names nobody (the CLI sends
	// X-Stix-User; a browser does not): the user the server runs as.
	LocalUser string
	// Sessions keeps the logins (OpenSessions over the server's state database): required.
	Sessions *Sessions
	// SessionCredential returns what a session keeps of the credential a login was made with, and CheckSession
	// checks it again on every page (auth.Authenticator's methods of those names).
	SessionCredential func(id auth.Identity, authorization string) (method, credential string, err error)
	CheckSession      func(ctx context.Context, method, user, credential string) (auth.Identity, error)
	// SessionTTL is how long a login lasts (DefaultSessionTTL when zero).
	SessionTTL time.Duration
	// StateInterval is how often a clusters page's event stream reads the clusters again
	// (DefaultStateInterval when zero).
	StateInterval time.Duration
	// Now is the clock (time.Now when nil); tests move it past a session's end.
	Now func() time.Time
	Log *slog.Logger
}

// DefaultStateInterval is how often the clusters list's live states are read again: a read of the state
// database, as `stix status` without --refresh, for each open page.
const DefaultStateInterval = 2 * time.Second

// DefaultSessionTTL is how long a browser's login lasts.
const DefaultSessionTTL = 12 * time.Hour

// Handler serves the dashboard. Make one with New.
type Handler struct {
	opts Options
	mux  *http.ServeMux
}

// New returns the dashboard's handler; mount it at Prefix and Prefix+"/".
func New(opts Options) *Handler {
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = DefaultSessionTTL
	}
	if opts.StateInterval <= 0 {
		opts.StateInterval = DefaultStateInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	h := &Handler{opts: opts, mux: http.NewServeMux()}
	h.routes()
	return h
}

func (h *Handler) routes() {
	m := h.mux
	m.HandleFunc("GET "+Prefix+"/static/", serveStatic)
	m.HandleFunc("GET "+Prefix+"/login", h.loginPage)
	m.HandleFunc("POST "+Prefix+"/login", h.login)
	m.HandleFunc("POST "+Prefix+"/logout", h.authed(h.logout))

	m.HandleFunc("GET "+Prefix+"/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"/clusters", http.StatusSeeOther)
	})
	m.HandleFunc("GET "+Prefix+"/clusters", h.authed(h.clusters))
	m.HandleFunc("GET "+Prefix+"/clusters/{cluster}", h.authed(h.cluster))
	m.HandleFunc("GET "+Prefix+"/events/clusters", h.authed(h.liveStates(readClusterStates)))
	m.HandleFunc("GET "+Prefix+"/events/jobs", h.authed(h.liveManagedJobs))
	m.HandleFunc("GET "+Prefix+"/events/services", h.authed(h.liveStates(readServiceStates)))
	m.HandleFunc("GET "+Prefix+"/events/clusters/{cluster}", h.authed(h.liveCluster))
	m.HandleFunc("GET "+Prefix+"/events/services/{name}", h.authed(h.liveService))
	m.HandleFunc("GET "+Prefix+"/clusters/{cluster}/jobs/{id}", h.authed(h.job))
	m.HandleFunc("GET "+Prefix+"/clusters/{cluster}/jobs/{id}/log", h.authed(h.jobLogStream))
	m.HandleFunc("GET "+Prefix+"/clusters/{cluster}/jobs/{id}/log.txt", h.authed(h.jobLogText))
	m.HandleFunc("GET "+Prefix+"/jobs", h.authed(h.managedJobs))
	m.HandleFunc("GET "+Prefix+"/jobs/{id}", h.authed(h.managedJob))
	m.HandleFunc("GET "+Prefix+"/jobs/{id}/log", h.authed(h.managedJobLogStream))
	m.HandleFunc("GET "+Prefix+"/jobs/{id}/log.txt", h.authed(h.managedJobLogText))
	m.HandleFunc("GET "+Prefix+"/services", h.authed(h.services))
	m.HandleFunc("GET "+Prefix+"/services/{name}", h.authed(h.service))
	m.HandleFunc("GET "+Prefix+"/infra", h.authed(h.infra))
	m.HandleFunc("GET "+Prefix+"/infra/kubernetes", h.authed(h.kubernetesGPUs))
	m.HandleFunc("GET "+Prefix+"/requests", h.authed(h.requests))
	m.HandleFunc("GET "+Prefix+"/requests/{id}", h.authed(h.request))
	m.HandleFunc("GET "+Prefix+"/costs", h.authed(h.costs))
	m.HandleFunc("GET "+Prefix+"/config", h.authed(h.config))
	m.HandleFunc("GET "+Prefix+"/workspaces", h.authed(h.workspaces))
	m.HandleFunc("GET "+Prefix+"/users", h.authed(h.users))
	m.HandleFunc("GET "+Prefix+"/tokens", h.authed(h.tokens))
	m.HandleFunc("GET "+Prefix+"/tokens/new", h.authed(h.newToken))
	m.HandleFunc("POST "+Prefix+"/tokens/new", h.authed(h.createToken))

	// Actions: GET shows the confirmation, POST (with the CSRF token) does it.
	for _, a := range actions {
		m.HandleFunc("GET "+Prefix+a.path, h.authed(h.confirm(a)))
		m.HandleFunc("POST "+Prefix+a.path, h.authed(h.act(a)))
	}
	m.HandleFunc(Prefix+"/", h.authed(func(w http.ResponseWriter, r *http.Request) {
		h.notFound(w, r, "There is no page at "+r.URL.Path+".", Prefix+"/clusters", "the clusters")
	}))
}

// ServeHTTP serves a dashboard page.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'")
	if r.URL.Path == Prefix {
		http.Redirect(w, r, Prefix+"/clusters", http.StatusSeeOther)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// authed identifies the caller (a session cookie, else the API server's own methods) and runs next as them; a
// caller who is not identified goes to the login page.
func (h *Handler) authed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := h.identify(w, r)
		if !ok {
			to := Prefix + "/login"
			if r.Method == http.MethodGet {
				to += "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			http.Redirect(w, r, to, http.StatusSeeOther)
			return
		}
		next(w, r.WithContext(auth.With(r.Context(), id)))
	}
}

// identify returns the caller of r: a live session's user, or who the API server's methods say.
func (h *Handler) identify(w http.ResponseWriter, r *http.Request) (auth.Identity, bool) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		id, err := h.opts.Sessions.identity(r.Context(), c.Value, h.opts.Now(), h.opts.CheckSession)
		if err == nil {
			return id, true
		}
		if sessionEnded(err) {
			h.opts.Log.Info("dashboard session ended", "reason", err.Error())
			clearCookie(w, sessionCookie)
		} else {
			// The database did not answer: the session may still be good, so the cookie stays.
			h.opts.Log.Error("dashboard session", "err", err.Error())
		}
	}
	id, err := h.opts.Authenticate(r.Context(), r)
	if err != nil {
		return auth.Identity{}, false
	}
	if id.Method == "header" && r.Header.Get(api.HeaderUser) == "" && h.opts.LocalUser != "" {
		id.Name = h.opts.LocalUser
	}
	return id, true
}

// reauthenticate checks a login's credential as the API does.
func (h *Handler) reauthenticate(ctx context.Context, authorization string) (auth.Identity, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, Prefix, nil)
	if err != nil {
		return auth.Identity{}, err
	}
	r.Header.Set("Authorization", authorization)
	return h.opts.Authenticate(ctx, r)
}

// statusOf is the HTTP status of a Backend error: 404 for what does not exist, the API error's own, else 500.
func statusOf(err error) int {
	var cnf *api.ClusterNotFoundError
	var jnf *api.JobNotFoundError
	if errors.As(err, &cnf) || errors.As(err, &jnf) {
		return http.StatusNotFound
	}
	e := api.WireError(err)
	if e.Status != 0 && e.Status != 499 {
		return e.Status
	}
	if e.Code == api.CodeNotFound {
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}
