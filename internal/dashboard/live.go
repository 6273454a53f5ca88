package dashboard

import (
	"maps"
	"net/http"
	"time"
)

// clusterStates streams the caller's clusters' states to an open clusters page as server-sent events: a
// "states" event, a JSON object of cluster name to state, first with every cluster, then with those that
// changed ("" for one that is gone), read again every StateInterval through the Backend (the caller's own
// clusters, as the page). The page updates its rows' state badges, and says when clusters appeared or went.
// The stream ends with the page; a failed read ends it with a "fail" event (the browser reconnects).
func (h *Handler) clusterStates(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s := startSSE(w, r)
	seen := map[string]string{}
	tick := time.NewTicker(h.opts.StateInterval)
	defer tick.Stop()
	var n int64
	for {
		cs, err := h.opts.Backend.Clusters(ctx)
		if err != nil {
			s.end("", err)
			return
		}
		now := make(map[string]string, len(cs))
		changed := map[string]string{}
		for _, c := range cs {
			now[c.Name] = string(c.Status)
			if old, ok := seen[c.Name]; !ok || old != now[c.Name] {
				changed[c.Name] = now[c.Name]
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
		seen = maps.Clone(now)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
