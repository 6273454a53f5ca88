package server

import (
	"encoding/json"
	"net/http"
)

// clusterEvents streams a cluster's node events as NDJSON (api.ClusterEvent) while the client stays. The
// answer's header is sent once the provider's watch is established, so that a client that has it misses no
// event after; an error before that (no such cluster, infra that cannot watch) is the answer instead.
func (s *Server) clusterEvents(w http.ResponseWriter, r *http.Request) {
	evs, err := s.opts.Client.WatchCluster(r.Context(), r.PathValue("cluster"))
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flush := http.NewResponseController(w).Flush
	_ = flush()
	enc := json.NewEncoder(w)
	for ev := range evs {
		if enc.Encode(ev) != nil {
			return
		}
		_ = flush()
	}
}
