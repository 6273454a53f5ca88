package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
)

// Bodies of the mutating calls that api.Client passes as arguments rather than one struct.
type (
	clusterBody struct {
		Cluster string `json:"cluster"`
	}
	downBody struct {
		Cluster string `json:"cluster"`
		Purge   bool   `json:"purge,omitempty"`
	}
	autostopBody struct {
		Cluster string              `json:"cluster"`
		Options api.AutostopOptions `json:"options"`
	}
	cancelBody struct {
		Cluster string `json:"cluster"`
		JobIDs  []int  `json:"job_ids,omitempty"`
		All     bool   `json:"all,omitempty"`
	}
	checkBody struct {
		Infra  []string `json:"infra,omitempty"`
		Verify bool     `json:"verify,omitempty"`
	}
	cancelRequestsBody struct {
		IDs      []string `json:"request_ids,omitempty"`
		All      bool     `json:"all,omitempty"`       // all of the caller's requests in flight
		AllUsers bool     `json:"all_users,omitempty"` // every user's
	}
)

func (s *Server) register() {
	c := s.opts.Client
	s.handle("GET /api/health", s.health)
	s.handle("GET /metrics", s.metrics.reg.Handler().ServeHTTP)

	// Reads: answered at once.
	s.handle("POST /api/v1/validate", read(func(ctx context.Context, t api.TaskSpec, _ *http.Request) (any, error) {
		return c.Validate(ctx, t)
	}))
	s.handle("POST /api/v1/plan", read(func(ctx context.Context, t api.TaskSpec, _ *http.Request) (any, error) {
		return c.Plan(ctx, t)
	}))
	s.handle("GET /api/v1/clusters", query(func(ctx context.Context, r *http.Request) (any, error) {
		cs, err := c.Status(ctx, r.URL.Query()["name"], boolParam(r, "refresh"))
		if err != nil {
			return nil, err
		}
		return s.ownClusters(ctx, r, cs)
	}))
	s.handle("GET /api/v1/clusters/match", query(func(ctx context.Context, r *http.Request) (any, error) {
		names, err := c.Match(ctx, r.URL.Query()["pattern"], boolParam(r, "all"))
		if err != nil {
			return nil, err
		}
		return s.ownNames(ctx, r, names)
	}))
	s.handle("GET /api/v1/clusters/{cluster}/jobs", query(func(ctx context.Context, r *http.Request) (any, error) {
		return c.Queue(ctx, r.PathValue("cluster"), boolParam(r, "skip_finished"))
	}))
	s.handle("GET /api/v1/clusters/{cluster}/endpoints", query(func(ctx context.Context, r *http.Request) (any, error) {
		port := 0
		if v := r.URL.Query().Get("port"); v != "" {
			var err error
			if port, err = intParam(v, "port"); err != nil {
				return nil, err
			}
		}
		return c.Endpoints(ctx, r.PathValue("cluster"), port)
	}))
	s.handle("GET /api/v1/clusters/{cluster}/nodes", query(func(ctx context.Context, r *http.Request) (any, error) {
		return c.Nodes(ctx, r.PathValue("cluster"))
	}))
	s.handle("GET /api/v1/clusters/{cluster}/jobs/{id}", query(func(ctx context.Context, r *http.Request) (any, error) {
		id, err := intParam(r.PathValue("id"), "job id")
		if err != nil {
			return nil, err
		}
		return c.Job(ctx, r.PathValue("cluster"), id)
	}))
	s.handle("GET /api/v1/clusters/{cluster}/jobs/{id}/logs", s.jobLogs)
	s.handle("GET /api/v1/clusters/{cluster}/events", s.clusterEvents)
	s.handle("GET /api/v1/cost-report", query(func(ctx context.Context, _ *http.Request) (any, error) {
		return c.CostReport(ctx)
	}))
	s.handle("GET /api/v1/storage", query(func(ctx context.Context, _ *http.Request) (any, error) {
		out, err := c.StorageList(ctx)
		if out == nil && err == nil {
			out = []api.Storage{}
		}
		return out, err
	}))
	s.handle("POST /api/v1/gpus/accelerators", read(func(ctx context.Context, q api.GPUQuery, _ *http.Request) (any, error) {
		return c.Accelerators(ctx, q)
	}))
	s.handle("POST /api/v1/gpus/offers", read(func(ctx context.Context, q api.GPUQuery, _ *http.Request) (any, error) {
		return c.Offers(ctx, q)
	}))

	// Calls that change something: each a request.
	s.handle("POST /api/v1/launch", submit(s, "launch", func(ctx context.Context, b api.LaunchRequest) (operation, error) {
		return op(c.Launch(ctx, b))
	}, func(b api.LaunchRequest) string { return b.Options.ClusterName }))
	s.handle("POST /api/v1/exec", submit(s, "exec", func(ctx context.Context, b api.ExecRequest) (operation, error) {
		return op(c.Exec(ctx, b))
	}, func(b api.ExecRequest) string { return b.Cluster }))
	s.handle("POST /api/v1/cancel", submit(s, "cancel", func(ctx context.Context, b cancelBody) (operation, error) {
		return op(c.Cancel(ctx, b.Cluster, b.JobIDs, b.All))
	}, func(b cancelBody) string { return b.Cluster }))
	s.handle("POST /api/v1/stop", submit(s, "stop", func(ctx context.Context, b clusterBody) (operation, error) {
		return op(c.Stop(ctx, b.Cluster))
	}, func(b clusterBody) string { return b.Cluster }))
	s.handle("POST /api/v1/start", submit(s, "start", func(ctx context.Context, b clusterBody) (operation, error) {
		return op(c.Start(ctx, b.Cluster))
	}, func(b clusterBody) string { return b.Cluster }))
	s.handle("POST /api/v1/down", submit(s, "down", func(ctx context.Context, b downBody) (operation, error) {
		return op(c.Down(ctx, b.Cluster, b.Purge))
	}, func(b downBody) string { return b.Cluster }))
	s.handle("POST /api/v1/autostop", submit(s, "autostop", func(ctx context.Context, b autostopBody) (operation, error) {
		return op(c.Autostop(ctx, b.Cluster, b.Options))
	}, func(b autostopBody) string { return b.Cluster }))
	s.handle("POST /api/v1/check", submit(s, "check", func(ctx context.Context, b checkBody) (operation, error) {
		return op(c.Check(ctx, b.Infra, b.Verify))
	}, nil))
	s.handle("POST /api/v1/storage/delete", submit(s, "storage_delete", func(ctx context.Context, b api.StorageDeleteRequest) (operation, error) {
		return op(c.StorageDelete(ctx, b))
	}, nil))
	s.handle("POST /api/v1/ssh/up", submit(s, "ssh_up", func(ctx context.Context, b api.SSHPoolRequest) (operation, error) {
		return op(c.SSHUp(ctx, b))
	}, nil))
	s.handle("POST /api/v1/ssh/down", submit(s, "ssh_down", func(ctx context.Context, b api.SSHPoolRequest) (operation, error) {
		return op(c.SSHDown(ctx, b))
	}, nil))

	// The requests themselves.
	s.handle("GET /api/v1/requests", s.listRequests)
	s.handle("GET /api/v1/requests/{id}", s.getRequest)
	s.handle("GET /api/v1/requests/{id}/events", s.requestEvents)
	s.handle("POST /api/v1/requests/cancel", s.cancelRequests)
	s.handle("GET /api/v1/server/logs", adminOnly(s.serverLogs))
	s.registerJobs()
	s.registerServe()
	s.registerTokens()
	if s.opts.Uploads != nil {
		for _, r := range s.opts.UploadRoutes {
			method, path, _ := strings.Cut(r, " ")
			s.routes = append(s.routes, method+" /api/v1/uploads"+path)
		}
		s.mux.Handle("/api/v1/uploads/", http.StripPrefix("/api/v1/uploads", s.opts.Uploads))
	}

	s.mountDashboard()
	s.mux.HandleFunc("/", s.notFound)
}

// read is a read route with a JSON body.
func read[B any](f func(ctx context.Context, b B, r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var b B
		if err := decode(w, r, &b); err != nil {
			writeError(w, err)
			return
		}
		answer(w, r, func(ctx context.Context, r *http.Request) (any, error) { return f(ctx, b, r) })
	}
}

// query is a read route whose arguments are in its path and query.
func query(f func(ctx context.Context, r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { answer(w, r, f) }
}

func answer(w http.ResponseWriter, r *http.Request, f func(ctx context.Context, r *http.Request) (any, error)) {
	v, err := f(r.Context(), r)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// submit is a mutating route: it records a request named name and answers 202 with its ID; the request runs
// in the background. cluster, when not nil, names the cluster the request acts on.
func submit[B any](s *Server, name string, start func(ctx context.Context, b B) (operation, error), cluster func(B) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var b B
		if err := decode(w, r, &b); err != nil {
			writeError(w, err)
			return
		}
		cl := ""
		if cluster != nil {
			cl = cluster(b)
		}
		if err := s.checkCluster(r.Context(), cl); err != nil {
			writeError(w, err)
			return
		}
		caller := identity(r.Context())
		id, err := s.reqs.submit(s.base, s.requestLog(r), caller.Name, name, cl, redacted(b), func(ctx context.Context) (operation, error) {
			return start(auth.With(ctx, caller), b)
		})
		if err != nil {
			writeError(w, err)
			return
		}
		setRequestID(w, id)
		writeJSON(w, http.StatusAccepted, api.Submitted{ID: id})
	}
}

// redacted returns what to record of a request's body: secrets' values and git credentials are not kept (the
// core gets them; the record of the request does not need them).
func redacted(body any) any {
	hide := func(t api.TaskSpec) api.TaskSpec {
		if t.Git != nil {
			t.Git = &api.GitCredentials{Token: redact(t.Git.Token), SSHKey: redact(t.Git.SSHKey)}
		}
		if len(t.Secrets) == 0 {
			return t
		}
		m := make(map[string]string, len(t.Secrets))
		for k := range t.Secrets {
			m[k] = "<redacted>"
		}
		t.Secrets = m
		return t
	}
	switch b := body.(type) {
	case api.LaunchRequest:
		b.Task = hide(b.Task)
		return b
	case api.ExecRequest:
		b.Task = hide(b.Task)
		return b
	case api.JobsLaunchRequest:
		b.Task = hide(b.Task)
		return b
	case api.ServeUpRequest:
		b.Task = hide(b.Task)
		return b
	case api.ServeUpdateRequest:
		b.Task = hide(b.Task)
		return b
	case api.PoolApplyRequest:
		if b.Task != nil {
			t := hide(*b.Task)
			b.Task = &t
		}
		return b
	}
	return body
}

// redact hides a credential's value, keeping whether there was one.
func redact(v string) string {
	if v == "" {
		return ""
	}
	return "<redacted>"
}

// secretWords mark a config key whose value is a credential; secretSections hold values that may all be
// (environment variables, secrets).
var (
	secretWords    = []string{"token", "secret", "password", "passwd", "credential", "private_key", "api_key", "apikey"}
	secretSections = []string{"envs", "secrets", "env"}
)

// redactConfig returns a copy of a config tree (config.Config.ToMap) with the values of secret keys, and of
// every key under envs: and secrets:, hidden as redact hides a request's credentials: what is set shows, never
// its value.
func redactConfig(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		low := strings.ToLower(k)
		switch {
		case slices.ContainsFunc(secretWords, func(w string) bool { return strings.Contains(low, w) }):
			out[k] = redactValue(v)
		case slices.Contains(secretSections, low):
			if sub, ok := v.(map[string]any); ok {
				hidden := make(map[string]any, len(sub))
				for sk, sv := range sub {
					hidden[sk] = redactValue(sv)
				}
				out[k] = hidden
			} else {
				out[k] = redactValue(v)
			}
		default:
			out[k] = redactAny(v)
		}
	}
	return out
}

func redactAny(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return redactConfig(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redactAny(e)
		}
		return out
	}
	return v
}

// redactValue hides a secret value of any type, keeping whether there was one.
func redactValue(v any) any {
	if v == nil || v == "" {
		return v
	}
	return "<redacted>"
}

func boolParam(r *http.Request, name string) bool {
	v, _ := strconv.ParseBool(r.URL.Query().Get(name))
	return v
}

func intParam(v, what string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, badRequest("%s must be a whole number, 0 or more; got %q", what, v)
	}
	return n, nil
}

// optInt reads an optional whole-number query parameter (0 when absent).
func optInt(r *http.Request, name string) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	return intParam(v, name)
}

func (s *Server) listRequests(w http.ResponseWriter, r *http.Request) {
	limit, err := optInt(r, "limit")
	if err != nil {
		writeError(w, err)
		return
	}
	all, err := allUsers(r)
	if err != nil {
		writeError(w, err)
		return
	}
	offset, err := optInt(r, "offset")
	if err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	f := api.RequestFilter{IDPrefixes: q["prefix"], All: boolParam(r, "all"), AllUsers: all, Limit: limit,
		Status: api.RequestStatus(q.Get("status")), Search: q.Get("q"), Sort: q.Get("sort"), Desc: boolParam(r, "desc"), Offset: offset}
	answer(w, r, func(ctx context.Context, _ *http.Request) (any, error) {
		l, err := s.reqs.list(ctx, f, UserFrom(ctx))
		if err != nil {
			return nil, err
		}
		n, err := s.reqs.count(ctx, f, UserFrom(ctx))
		w.Header().Set(api.HeaderTotal, strconv.Itoa(n))
		return l, err
	})
}

func (s *Server) getRequest(w http.ResponseWriter, r *http.Request) {
	answer(w, r, func(ctx context.Context, r *http.Request) (any, error) {
		q, err := s.reqs.get(ctx, r.PathValue("id"))
		if err == nil {
			setRequestID(w, q.ID)
			err = checkRequest(ctx, q)
		}
		return q, err
	})
}

// requestEvents streams a request's events as NDJSON (api.StreamLine) from ?offset= on, then the request as it
// ended; with ?follow=true it waits for events until the request ends, otherwise it stops at the last one
// recorded (with the Done line only if the request has ended).
func (s *Server) requestEvents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	from, err := optInt(r, "offset")
	if err != nil {
		writeError(w, err)
		return
	}
	q, err := s.reqs.get(ctx, r.PathValue("id"))
	if err == nil {
		err = checkRequest(ctx, q)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	setRequestID(w, q.ID)
	follow := boolParam(r, "follow")
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	flush := http.NewResponseController(w).Flush
	for {
		// Take the wake-up channel, then the status, then the events: a request that ended has recorded all of
		// its events before its status, and a change after the read closes the channel taken before it.
		changed := s.reqs.changed(q.ID)
		cur, err := s.reqs.get(ctx, q.ID)
		if err != nil {
			return
		}
		lines, err := s.reqs.events(ctx, q.ID, from)
		if err != nil {
			return
		}
		for _, l := range lines {
			if enc.Encode(l) != nil {
				return
			}
			from = l.Seq + 1
		}
		if cur.Status.IsFinal() {
			_ = enc.Encode(api.StreamLine{Seq: from, Done: &cur})
			_ = flush()
			return
		}
		_ = flush()
		if !follow {
			return
		}
		if changed == nil {
			// In flight but run by no process here: only New's recovery or another server ends it.
			changed = tick()
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

// tick returns a channel closed a second from now, for the rare follower of a request run elsewhere.
func tick() <-chan struct{} {
	c := make(chan struct{})
	time.AfterFunc(time.Second, func() { close(c) })
	return c
}

// cancelRequests cancels requests by ID, or all of the caller's (or every user's) in flight, and answers the
// IDs of those that were in flight.
func (s *Server) cancelRequests(w http.ResponseWriter, r *http.Request) {
	var b cancelRequestsBody
	if err := decode(w, r, &b); err != nil {
		writeError(w, err)
		return
	}
	answer(w, r, func(ctx context.Context, _ *http.Request) (any, error) {
		var targets []api.Request
		switch {
		case len(b.IDs) > 0:
			for _, id := range b.IDs {
				q, err := s.reqs.get(ctx, id)
				if err == nil {
					err = checkRequest(ctx, q)
				}
				if err != nil {
					return nil, err
				}
				targets = append(targets, q)
			}
		case b.AllUsers && !identity(ctx).IsAdmin():
			return nil, auth.Forbidden("only an admin cancels every user's requests")
		case b.All || b.AllUsers:
			l, err := s.reqs.list(ctx, api.RequestFilter{AllUsers: b.AllUsers}, UserFrom(ctx))
			if err != nil {
				return nil, err
			}
			targets = l
		default:
			return nil, badRequest("name the requests to cancel (request_ids), or set all or all_users")
		}
		cancelled := []string{}
		for _, q := range targets {
			ok, err := s.reqs.cancel(ctx, q.ID)
			if err != nil {
				return nil, err
			}
			if ok {
				s.log.InfoContext(ctx, "request cancelled", "request_id", q.ID, "by", UserFrom(ctx))
				cancelled = append(cancelled, q.ID)
			}
		}
		return cancelled, nil
	})
}

// serverLogs sends the server's log file (?tail=N: its last N lines).
func (s *Server) serverLogs(w http.ResponseWriter, r *http.Request) {
	tail, err := optInt(r, "tail")
	if err != nil {
		writeError(w, err)
		return
	}
	if s.opts.LogFile == "" {
		writeError(w, &api.Error{Code: api.CodeNotFound, Status: http.StatusNotFound,
			Message: "this API server logs to its standard error (it runs in the foreground), not to a file"})
		return
	}
	b, err := readTail(s.opts.LogFile, tail)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(b)
}

// jobLogs streams a job's output as NDJSON (api.LogLine), then the job (or the error that ended the stream).
// ?offset=N skips the first N bytes of the output: a client resumes where its connection dropped.
func (s *Server) jobLogs(w http.ResponseWriter, r *http.Request) {
	id, err := intParam(r.PathValue("id"), "job id")
	if err != nil {
		writeError(w, err)
		return
	}
	tail, err := optInt(r, "tail")
	if err != nil {
		writeError(w, err)
		return
	}
	skip, err := optInt(r, "offset")
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	lw := &logWriter{enc: json.NewEncoder(w), flush: http.NewResponseController(w).Flush, skip: int64(skip), offset: 0}
	job, err := s.opts.Client.Logs(r.Context(), r.PathValue("cluster"), id, api.LogsOptions{Follow: boolParam(r, "follow"), Tail: tail}, lw)
	if err != nil {
		_ = lw.enc.Encode(api.LogLine{Offset: lw.offset, Error: api.WireError(err)})
		return
	}
	_ = lw.enc.Encode(api.LogLine{Offset: lw.offset, Job: &job})
}

// logWriter sends each write of a job's output as one LogLine, after skipping the first skip bytes.
type logWriter struct {
	enc    *json.Encoder
	flush  func() error
	skip   int64
	offset int64 // bytes of output so far, skipped ones included
}

func (l *logWriter) Write(p []byte) (int, error) {
	n := len(p)
	start := l.offset
	l.offset += int64(n)
	if l.offset <= l.skip {
		return n, nil
	}
	if start < l.skip {
		p = p[l.skip-start:]
	}
	if err := l.enc.Encode(api.LogLine{Out: string(p), Offset: l.offset}); err != nil {
		return 0, fmt.Errorf("send the job's output: %w", err)
	}
	_ = l.flush()
	return n, nil
}

var _ io.Writer = (*logWriter)(nil)
