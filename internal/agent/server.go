package agent

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/stix-run/stix/api"
)

// maxBody bounds a request body: the one limit of task files and job specs (api.MaxTaskBytes, which the CLI
// checks before provisioning), plus room for what the head adds when it hands a job's rank to a worker (the
// script's prologue, the SKYPILOT_* variables), so that a job accepted at launch never meets it mid-run.
const maxBody = api.MaxTaskBytes + 1<<20

// route is one endpoint of the agent's API.
type route struct {
	pattern string // net/http pattern: "METHOD /path"
	handler http.HandlerFunc
}

// routes is the agent's HTTP API, documented in docs/agent.md (a test checks that every pattern is there).
func (a *agent) routes() []route {
	return []route{
		{"GET /v1/health", a.handleHealth},
		{"POST /v1/cluster", a.handleConfigure},
		{"POST /v1/jobs", a.headHandler(a.handleSubmit)},
		{"GET /v1/jobs", a.headHandler(a.handleJobs)},
		{"GET /v1/jobs/{id}", a.headHandler(a.handleJob)},
		{"POST /v1/jobs/cancel", a.headHandler(a.handleCancel)},
		{"GET /v1/jobs/{id}/logs", a.headHandler(a.handleLogs)},
		{"GET /v1/autostop", a.headHandler(a.handleGetAutostop)},
		{"POST /v1/autostop", a.headHandler(a.handleSetAutostop)},
		{"POST /v1/shutdown", a.handleShutdown},
		{"POST /v1/procs", a.handleStartProc},
		{"GET /v1/procs/{id}", a.handleProc},
		{"POST /v1/procs/{id}/signal", a.handleSignalProc},
		{"GET /v1/procs/{id}/output", a.handleProcOutput},
		{"DELETE /v1/procs/{id}", a.handleReleaseProc},
		{"GET /v1/mounts", a.handleListMounts},
		{"POST /v1/mounts", a.handleMount},
		{"POST /v1/mounts/flush", a.handleFlushMounts},
		{"POST /v1/mounts/unmount", a.handleUnmount},
		{"GET /v1/mounts/capability", a.handleMountCapability},
	}
}

// handler serves the API. Every request must carry the cluster secret.
func (a *agent) handler() http.Handler {
	mux := http.NewServeMux()
	for _, r := range a.routes() {
		mux.HandleFunc(r.pattern, r.handler)
	}
	return a.authenticate(mux)
}

func (a *agent) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !bearerMatches(r.Header.Get("Authorization"), a.secret) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="stix-agent"`)
			writeError(w, ErrUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearerMatches reports whether an Authorization header carries the secret with the Bearer scheme, whose name
// is case-insensitive (RFC 7235 §2.1); the secret is compared in constant time.
func bearerMatches(header string, secret []byte) bool {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimLeft(token, " ")), secret) == 1
}

// headHandler serves an endpoint of the head only.
func (a *agent) headHandler(f func(*head, http.ResponseWriter, *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := a.currentHead()
		if h == nil {
			writeError(w, errNotConfigured)
			return
		}
		f(h, w, r)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus(err))
	_ = json.NewEncoder(w).Encode(errorBody{Error: err.Error()})
}

func readJSON(r *http.Request, v any) error {
	// Read the whole body within the limit, so that a larger one is refused (413) rather than cut short.
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("%w: request body: %v", ErrInvalid, err)
	}
	if len(body) > maxBody {
		return fmt.Errorf("%w: %w", ErrTooLarge, &api.TooLargeError{What: "the request body", Size: -1})
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: request body: %v", ErrInvalid, err)
	}
	return nil
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, fmt.Errorf("%w: job id %q: want a positive integer", ErrInvalid, r.PathValue("id"))
	}
	return id, nil
}

func boolParam(r *http.Request, name string) bool {
	v, _ := strconv.ParseBool(r.URL.Query().Get(name))
	return v
}

func (a *agent) handleHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, a.health())
}

func (a *agent) handleConfigure(w http.ResponseWriter, r *http.Request) {
	var cfg ClusterConfig
	if err := readJSON(r, &cfg); err != nil {
		writeError(w, err)
		return
	}
	h, err := a.ensureHead()
	if err != nil {
		writeError(w, err)
		return
	}
	if err := h.configure(r.Context(), cfg); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, a.health())
}

func (a *agent) handleSubmit(h *head, w http.ResponseWriter, r *http.Request) {
	var spec JobSpec
	if err := readJSON(r, &spec); err != nil {
		writeError(w, err)
		return
	}
	id, err := h.submit(r.Context(), spec)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, SubmitResponse{JobID: id})
}

func (a *agent) handleJobs(h *head, w http.ResponseWriter, r *http.Request) {
	jobs, err := h.jobs(r.Context(), JobsQuery{SkipFinished: boolParam(r, "skip_finished"), User: r.URL.Query().Get("user")})
	if err != nil {
		writeError(w, err)
		return
	}
	if jobs == nil {
		jobs = []Job{}
	}
	writeJSON(w, jobs)
}

func (a *agent) handleJob(h *head, w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	job, err := h.job(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, job)
}

func (a *agent) handleCancel(h *head, w http.ResponseWriter, r *http.Request) {
	var req CancelRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, err)
		return
	}
	res, err := h.cancel(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, res)
}

// streamWriter flushes after every batch, so a follower sees output at once.
type streamWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (s streamWriter) Write(p []byte) (int, error) { return s.w.Write(p) }
func (s streamWriter) Flush()                      { _ = s.rc.Flush() }

func startStream(w http.ResponseWriter) streamWriter {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	s := streamWriter{w: w, rc: http.NewResponseController(w)}
	s.Flush()
	return s
}

func (a *agent) handleLogs(h *head, w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if _, err := h.job(r.Context(), id); err != nil {
		writeError(w, err)
		return
	}
	tailN, _ := strconv.Atoi(r.URL.Query().Get("tail"))
	// The job's status when the stream ends goes in a trailer: a follower learns how the job ended from the
	// stream itself, even when the cluster is torn down right after (autodown) and can no longer be asked.
	w.Header().Set("Trailer", JobStatusTrailer)
	s := startStream(w)
	if err := h.logs(r.Context(), id, boolParam(r, "follow"), tailN, s); err != nil && r.Context().Err() == nil {
		// The status line is sent; all we can do is end the stream early and say why in our log.
		a.log.Warn("stream job log", "job", id, "err", err)
		return
	}
	if j, err := h.job(r.Context(), id); err == nil {
		w.Header().Set(JobStatusTrailer, string(j.Status))
	}
}

// JobStatusTrailer is the HTTP trailer of a log stream that carries the job's status at the end of the stream.
const JobStatusTrailer = "Stix-Job-Status"

func (a *agent) handleGetAutostop(h *head, w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, h.auto.status())
}

func (a *agent) handleSetAutostop(h *head, w http.ResponseWriter, r *http.Request) {
	var req AutostopRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if err := h.autostop(r.Context(), req); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, h.auto.status())
}

func (a *agent) handleStartProc(w http.ResponseWriter, r *http.Request) {
	var spec ProcSpec
	if err := readJSON(r, &spec); err != nil {
		writeError(w, err)
		return
	}
	st, err := a.procs.StartProc(r.Context(), spec)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, st)
}

func (a *agent) handleProc(w http.ResponseWriter, r *http.Request) {
	st, err := a.procs.Proc(r.Context(), r.PathValue("id"), boolParam(r, "wait"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, st)
}

func (a *agent) handleSignalProc(w http.ResponseWriter, r *http.Request) {
	var req SignalRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if err := a.procs.SignalProc(r.Context(), r.PathValue("id"), req.Signal); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *agent) handleProcOutput(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	offset, _ := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
	if offset < 0 {
		writeError(w, fmt.Errorf("%w: negative offset", ErrInvalid))
		return
	}
	if _, err := a.procs.Proc(r.Context(), id, false); err != nil {
		writeError(w, err)
		return
	}
	s := startStream(w)
	// A stream that ends early (an error, the agent stopping) looks like a clean end to the client; the head's
	// pump asks for the process's state afterwards and pulls again while it runs.
	if _, err := a.procs.ProcOutput(r.Context(), id, offset, boolParam(r, "follow"), s); err != nil &&
		r.Context().Err() == nil && !errors.Is(err, os.ErrNotExist) {
		a.log.Warn("stream process output", "process", id, "err", err)
	}
}

func (a *agent) handleReleaseProc(w http.ResponseWriter, r *http.Request) {
	if err := a.procs.ReleaseProc(r.Context(), r.PathValue("id")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *agent) health() Health {
	h := Health{Version: Version, PID: os.Getpid(), StartedAt: a.startedAt, Dir: a.dir, Resources: a.resources}
	if hd := a.currentHead(); hd != nil {
		h.Head = true
		hd.mu.Lock()
		h.ClusterName = hd.cluster.ClusterName
		hd.mu.Unlock()
	}
	return h
}
