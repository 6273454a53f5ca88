package dashboard

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// states reads a list's rows' states for the caller: row key (a cluster's name, a managed job's ID, a
// service's name) to state.
type states func(ctx context.Context, b Backend) (map[string]string, error)

func readClusterStates(ctx context.Context, b Backend) (map[string]string, error) {
	cs, err := b.Clusters(ctx)
	out := make(map[string]string, len(cs))
	for _, c := range cs {
		out[c.Name] = string(c.Status)
	}
	return out, err
}

func readManagedJobStates(ctx context.Context, b Backend) (map[string]string, error) {
	rows, err := b.ManagedJobs(ctx)
	out := make(map[string]string, len(rows))
	for _, g := range groupJobs(rows) {
		out[strconv.FormatInt(g.ID, 10)] = string(g.Status)
	}
	return out, err
}

func readServiceStates(ctx context.Context, b Backend) (map[string]string, error) {
	ss, err := b.Services(ctx)
	out := make(map[string]string, len(ss))
	for _, s := range ss {
		out[s.Name] = string(s.Status)
	}
	return out, err
}

// liveStates streams a list's states to an open list page as server-sent events: a "states" event, a JSON
// object of row key to state, first with every row, then with those that changed ("" for one that is gone),
// read again every StateInterval through the Backend (the caller's own rows, as the page). The page updates
// its rows' state badges, and says when rows appeared. The stream ends with the page; a failed read ends it
// with a "fail" event.
func (h *Handler) liveStates(read states) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { h.followStates(w, r, read) }
}

func (h *Handler) followStates(w http.ResponseWriter, r *http.Request, read states) {
	ctx := r.Context()
	s := startSSE(w, r)
	seen := map[string]string{}
	tick := time.NewTicker(h.opts.StateInterval)
	defer tick.Stop()
	var n int64
	for {
		now, err := read(ctx, h.opts.Backend)
		if err != nil {
			s.end("", err)
			return
		}
		changed := map[string]string{}
		for k, st := range now {
			if old, ok := seen[k]; !ok || old != st {
				changed[k] = st
			}
		}
		for name := range seen {
			if _, ok := now[name]; !ok {
				changed[name] = ""
			}
		}
		if n == 0 || len(changed) > 0 {
			n++
			if s.event("states", n, changed) != nil {
				return
			}
		}
		seen = now
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
