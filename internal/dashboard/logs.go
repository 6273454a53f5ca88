package dashboard

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/stix-run/stix/api"
)

// A job's log reaches the page as server-sent events, each write of the job's output one "log" event as it
// comes: the server never holds the whole log, nor does the page (app.js keeps the end of it). Each event's ID
// is the output's byte offset after it, so that the browser's automatic reconnection (Last-Event-ID) resumes
// where the stream broke. The stream ends with an "end" event (the job's state), or a "fail" event.

// sseWriter turns writes into "log" events, skipping the first skip bytes.
type sseWriter struct {
	w      io.Writer
	flush  func() error
	skip   int64
	offset int64
}

func (s *sseWriter) Write(p []byte) (int, error) {
	n := len(p)
	start := s.offset
	s.offset += int64(n)
	if s.offset <= s.skip {
		return n, nil
	}
	if start < s.skip {
		p = p[s.skip-start:]
	}
	if err := s.event("log", s.offset, map[string]string{"out": string(p)}); err != nil {
		return 0, err
	}
	return n, nil
}

func (s *sseWriter) event(name string, id int64, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(s.w, "event: %s\nid: %d\ndata: %s\n\n", name, id, b); err != nil {
		return fmt.Errorf("send the log: %w", err)
	}
	_ = s.flush()
	return nil
}

// startSSE begins an event stream, resuming after the Last-Event-ID the browser sends when it reconnects.
func startSSE(w http.ResponseWriter, r *http.Request) *sseWriter {
	skip, _ := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // a proxy in front must not hold the stream back
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	s := &sseWriter{w: w, flush: rc.Flush, skip: max(skip, 0)}
	_ = s.flush()
	return s
}

// streamEnd ends a stream with the job's final state, or with the error that broke it.
func (s *sseWriter) end(status string, err error) {
	if err != nil {
		_ = s.event("fail", s.offset, map[string]string{"message": api.WireError(err).Message})
		return
	}
	_ = s.event("end", s.offset, map[string]string{"status": status})
}

func (h *Handler) jobLogStream(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 1 {
		http.NotFound(w, r)
		return
	}
	s := startSSE(w, r)
	job, err := h.opts.Backend.Logs(r.Context(), r.PathValue("cluster"), id, true, s)
	s.end(string(job.Status), err)
}

func (h *Handler) managedJobLogStream(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		http.NotFound(w, r)
		return
	}
	s := startSSE(w, r)
	err = h.opts.Backend.ManagedJobLogs(r.Context(), id, true, s)
	status := ""
	if err == nil {
		var rows []api.ManagedJob
		if rows, err = h.opts.Backend.ManagedJobs(r.Context(), id); err == nil {
			if g := groupJobs(rows); len(g) > 0 {
				status = string(g[0].Status)
			}
		}
	}
	s.end(status, err)
}

// The .txt logs are for a browser without JavaScript: the output so far, copied as it is read.
func (h *Handler) jobLogText(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 1 {
		http.NotFound(w, r)
		return
	}
	if _, err := h.opts.Backend.Cluster(r.Context(), r.PathValue("cluster")); err != nil {
		h.backendError(w, r, err, Prefix+"/clusters", "the clusters")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if _, err := h.opts.Backend.Logs(r.Context(), r.PathValue("cluster"), id, false, w); err != nil {
		fmt.Fprintf(w, "\n[stix: the log stopped: %s]\n", api.WireError(err).Message)
	}
}

func (h *Handler) managedJobLogText(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		http.NotFound(w, r)
		return
	}
	if jobs, err := h.opts.Backend.ManagedJobs(r.Context(), id); err != nil || len(jobs) == 0 {
		h.notFound(w, r, fmt.Sprintf("There is no managed job %d.", id), Prefix+"/jobs", "the managed jobs")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := h.opts.Backend.ManagedJobLogs(r.Context(), id, false, w); err != nil {
		fmt.Fprintf(w, "\n[stix: the log stopped: %s]\n", api.WireError(err).Message)
	}
}
