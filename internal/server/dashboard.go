package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/user"
	"strconv"
	"strings"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/dashboard"
)

// mountDashboard serves the web UI (internal/dashboard) under /dashboard, reading through dashboardBackend: the
// same core and the same permission checks as the API routes.
func (s *Server) mountDashboard() {
	local := ""
	if u, err := user.Current(); err == nil {
		local = u.Username
	}
	h := dashboard.New(dashboard.Options{
		Backend:           dashboardBackend{s},
		Authenticate:      s.authn.Authenticate,
		Sessions:          s.sessions,
		SessionCredential: s.authn.SessionCredential,
		CheckSession:      s.authn.CheckSession,
		BasicAuth:         s.opts.Auth.HtpasswdFile != "",
		LocalUser:         local,
		SessionTTL:        s.opts.DashboardSessionTTL,
		Now:               s.opts.DashboardNow,
		StateInterval:     s.opts.DashboardStateInterval,
		Log:               s.log,
	})
	s.mux.Handle(dashboard.Prefix, h)
	s.mux.Handle(dashboard.Prefix+"/", h)
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, dashboard.Prefix+"/", http.StatusSeeOther)
	})
}

// isDashboard reports a path the dashboard serves (and authenticates itself, with its login page).
func isDashboard(path string) bool {
	return path == "/" || path == dashboard.Prefix || strings.HasPrefix(path, dashboard.Prefix+"/")
}

// dashboardBackend is dashboard.Backend over the server: every read applies the API routes' rules (own
// resources only, admins all), every action is an API call through the server's own routes.
type dashboardBackend struct{ s *Server }

func (b dashboardBackend) Clusters(ctx context.Context) ([]api.Cluster, error) {
	cs, err := b.s.opts.Client.Status(ctx, nil, false)
	if err != nil {
		return nil, err
	}
	return b.s.visibleClusters(ctx, cs, identity(ctx).IsAdmin()), nil
}

func (b dashboardBackend) Cluster(ctx context.Context, name string) (api.Cluster, error) {
	cs, err := b.s.opts.Client.Status(ctx, []string{name}, false)
	if err != nil {
		return api.Cluster{}, err
	}
	for _, c := range cs {
		if c.Name == name {
			if err := b.s.checkCluster(ctx, name); err != nil {
				return api.Cluster{}, err
			}
			return c, nil
		}
	}
	return api.Cluster{}, &api.ClusterNotFoundError{Name: name}
}

func (b dashboardBackend) CostReport(ctx context.Context) ([]api.CostReportEntry, error) {
	report, err := b.s.opts.Client.CostReport(ctx)
	if err != nil || identity(ctx).IsAdmin() {
		return report, err
	}
	// Only the clusters the caller may see.
	cs, err := b.Clusters(ctx)
	if err != nil {
		return nil, err
	}
	mine := map[string]bool{}
	for _, c := range cs {
		mine[c.Name] = true
	}
	out := report[:0:0]
	for _, e := range report {
		if mine[e.Name] {
			out = append(out, e)
		}
	}
	return out, nil
}

func (b dashboardBackend) Queue(ctx context.Context, cluster string) ([]api.Job, error) {
	if err := b.s.checkCluster(ctx, cluster); err != nil {
		return nil, err
	}
	return b.s.opts.Client.Queue(ctx, cluster, false)
}

func (b dashboardBackend) Nodes(ctx context.Context, cluster string) ([]api.ClusterNode, error) {
	if err := b.s.checkCluster(ctx, cluster); err != nil {
		return nil, err
	}
	return b.s.opts.Client.Nodes(ctx, cluster)
}

func (b dashboardBackend) Logs(ctx context.Context, cluster string, id int, follow bool, w io.Writer) (api.Job, error) {
	if err := b.s.checkCluster(ctx, cluster); err != nil {
		return api.Job{}, err
	}
	return b.s.opts.Client.Logs(ctx, cluster, id, api.LogsOptions{Follow: follow}, w)
}

func (b dashboardBackend) ManagedJobs(ctx context.Context, ids ...int64) ([]api.ManagedJob, error) {
	admin := identity(ctx).IsAdmin()
	if admin {
		ctx = api.WithAllUsers(ctx)
	}
	jobs, err := withController(b.s.opts.Client.JobsQueue(ctx, api.JobsQueueOptions{IDs: ids, Events: len(ids) > 0}))
	if err != nil || admin {
		return jobs, err
	}
	return ownJobs(ctx, jobs), nil
}

// ManagedJobPage asks the controller for the page alone, filtered and sorted in its store, and counts the jobs
// without reading them, where the core can (api.JobsCounter: the server's controller); otherwise it reads every
// job and cuts the page (newest first only). A non-admin's page holds their own jobs alone.
func (b dashboardBackend) ManagedJobPage(ctx context.Context, q api.JobsQueueOptions) ([]api.ManagedJob, int, error) {
	admin := identity(ctx).IsAdmin()
	if admin {
		ctx = api.WithAllUsers(ctx)
	}
	if jc, ok := b.s.opts.Client.(api.JobsCounter); ok {
		// The page and the count are read at once, on two of the store's connections.
		var (
			n    int
			nErr error
			done = make(chan struct{})
		)
		go func() {
			defer close(done)
			c := q
			c.Offset, c.Limit = 0, 0
			n, nErr = withController(jc.JobsCount(ctx, c))
		}()
		jobs, err := withController(b.s.opts.Client.JobsQueue(ctx, q))
		<-done
		if err != nil {
			return nil, 0, err
		}
		if nErr != nil {
			return nil, 0, nErr
		}
		if !admin {
			jobs = ownJobs(ctx, jobs)
		}
		return jobs, n, nil
	}
	if q.Status != "" || q.Search != "" || q.Sort != "" {
		return nil, 0, fmt.Errorf("filtering or sorting managed jobs needs the API server's controller: %w", errors.ErrUnsupported)
	}
	offset, limit := q.Offset, q.Limit
	all, err := b.ManagedJobs(ctx)
	if err != nil {
		return nil, 0, err
	}
	// Tasks of one job are adjacent, newest job first: the page is the jobs numbered offset to offset+limit.
	var (
		out  []api.ManagedJob
		seen int
	)
	for i, j := range all {
		if i == 0 || j.ID != all[i-1].ID {
			seen++
		}
		if seen > offset && seen <= offset+limit {
			out = append(out, j)
		}
	}
	return out, seen, nil
}

func (b dashboardBackend) ManagedJobLogs(ctx context.Context, id int64, follow bool, w io.Writer) error {
	jobs, err := b.ManagedJobs(ctx, id)
	if err != nil {
		return err
	}
	if len(jobs) == 0 {
		return &api.Error{Code: api.CodeNotFound, Status: http.StatusNotFound, Message: "no managed job " + strconv.FormatInt(id, 10)}
	}
	if identity(ctx).IsAdmin() {
		ctx = api.WithAllUsers(ctx)
	}
	_, err = withController(b.s.opts.Client.JobsLogs(ctx, id, api.JobsLogsOptions{Follow: follow}, w))
	return err
}

func (b dashboardBackend) Services(ctx context.Context) ([]api.Service, error) {
	if identity(ctx).IsAdmin() {
		ctx = api.WithAllUsers(ctx)
	}
	return withServeController(b.s.opts.Client.ServeStatus(ctx, nil))
}

// Submit calls the API route POST path in process, as the caller: the route's own checks and request record.
func (b dashboardBackend) Submit(ctx context.Context, path string, body any) (string, error) {
	var sub api.Submitted
	if err := b.call(ctx, http.MethodPost, path, body, http.StatusAccepted, &sub); err != nil {
		return "", err
	}
	return sub.ID, nil
}

// Infra is what `stix check` finds now, offline, with the enabled set it recorded last.
func (b dashboardBackend) Infra(ctx context.Context) (api.CheckResult, error) {
	if b.s.opts.InfraStatus == nil {
		return api.CheckResult{}, &api.Error{Code: api.CodeNotFound, Status: http.StatusNotFound,
			Message: "this API server's core does not report its infra"}
	}
	return b.s.opts.InfraStatus(ctx)
}

// Config is the server's config with secret values hidden; admins only, as the token routes.
func (b dashboardBackend) Config(ctx context.Context) (map[string]any, error) {
	if id := identity(ctx); !id.IsAdmin() {
		return nil, auth.Forbidden("the server's config is for admins; %q is a %s", id.Name, id.Role)
	}
	if b.s.opts.Config == nil {
		return map[string]any{}, nil
	}
	m, err := b.s.opts.Config(ctx)
	if err != nil {
		return nil, err
	}
	return redactConfig(m), nil
}

// KubernetesGPUs is `show-gpus --infra k8s`, as the API's route answers it.
func (b dashboardBackend) KubernetesGPUs(ctx context.Context) ([]api.AcceleratorCounts, error) {
	return b.s.opts.Client.Accelerators(ctx, api.GPUQuery{Infra: "kubernetes"})
}

// Requests lists one page of the server's requests, finished ones too, and how many f keeps: the caller's, or
// everyone's for an admin.
func (b dashboardBackend) Requests(ctx context.Context, f api.RequestFilter) ([]api.Request, int, error) {
	f.All, f.AllUsers = true, identity(ctx).IsAdmin()
	l, err := b.s.reqs.list(ctx, f, UserFrom(ctx))
	if err != nil {
		return nil, 0, err
	}
	n, err := b.s.reqs.count(ctx, f, UserFrom(ctx))
	return l, n, err
}

// RequestUsers counts the requests of each user (the caller alone unless an admin) in the database.
func (b dashboardBackend) RequestUsers(ctx context.Context) ([]dashboard.UserRequests, error) {
	user := UserFrom(ctx)
	if identity(ctx).IsAdmin() {
		user = ""
	}
	return b.s.reqs.users(ctx, user)
}

// Request returns one request and its events so far, with the API's check (another user's is a 403).
func (b dashboardBackend) Request(ctx context.Context, id string) (api.Request, []api.Event, error) {
	q, err := b.s.reqs.get(ctx, id)
	if err == nil {
		err = checkRequest(ctx, q)
	}
	if err != nil {
		return api.Request{}, nil, err
	}
	lines, err := b.s.reqs.events(ctx, q.ID, 0)
	if err != nil {
		return api.Request{}, nil, err
	}
	events := make([]api.Event, 0, len(lines))
	for _, l := range lines {
		if l.Event != nil {
			events = append(events, *l.Event)
		}
	}
	return q, events, nil
}

// Tokens lists the service-account tokens through the API's admin-only route.
func (b dashboardBackend) Tokens(ctx context.Context) ([]api.TokenInfo, error) {
	var out []api.TokenInfo
	return out, b.call(ctx, http.MethodGet, "/api/v1/tokens", nil, http.StatusOK, &out)
}

// CreateToken creates a token through the API's admin-only route.
func (b dashboardBackend) CreateToken(ctx context.Context, req api.TokenRequest) (api.CreatedToken, error) {
	var out api.CreatedToken
	return out, b.call(ctx, http.MethodPost, "/api/v1/tokens", req, http.StatusCreated, &out)
}

// RevokeToken revokes a token through the API's admin-only route.
func (b dashboardBackend) RevokeToken(ctx context.Context, name string) error {
	return b.call(ctx, http.MethodDelete, "/api/v1/tokens/"+url.PathEscape(name), nil, http.StatusOK, nil)
}

// call makes the API call method path in process, as the caller (the identity ctx carries), through the
// server's own routes and their checks, and decodes an answer of status want into out; any other answer is
// the API's error.
func (b dashboardBackend) call(ctx context.Context, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	r, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return err
	}
	r.Header.Set("Content-Type", "application/json")
	w := &bufferedResponse{header: http.Header{}}
	b.s.logRequests(b.s.mux).ServeHTTP(w, r)
	if w.status == want {
		if out == nil {
			return nil
		}
		return json.Unmarshal(w.body.Bytes(), out)
	}
	var e api.Error
	if err := json.Unmarshal(w.body.Bytes(), &e); err != nil || e.Message == "" {
		e = api.Error{Code: api.CodeFailed, Message: strings.TrimSpace(w.body.String())}
	}
	if e.Status == 0 {
		e.Status = w.status
	}
	return &e
}

// bufferedResponse keeps an in-process API call's answer.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *bufferedResponse) Header() http.Header { return w.header }
func (w *bufferedResponse) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *bufferedResponse) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}
