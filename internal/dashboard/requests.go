package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/stix-run/stix/api"
)

var requestStates = []string{string(api.RequestPending), string(api.RequestRunning), string(api.RequestSucceeded),
	string(api.RequestFailed), string(api.RequestCancelled)}

// requests is the API server's request queue, as `stix api status -a`: the caller's requests (an admin: every
// user's), with filter, sort and pages as the other lists.
func (h *Handler) requests(w http.ResponseWriter, r *http.Request) {
	reqs, err := h.opts.Backend.Requests(r.Context())
	if err != nil {
		h.backendError(w, r, err, Prefix+"/clusters", "the clusters")
		return
	}
	q := readListQuery(r, "created", true)
	needle := strings.ToLower(q.Q)
	rows := make([]*api.Request, 0, len(reqs))
	for i := range reqs {
		x := &reqs[i]
		if q.State != "" && string(x.Status) != q.State {
			continue
		}
		if needle != "" && !strings.Contains(strings.ToLower(x.ID+" "+x.Name+" "+x.User+" "+x.Cluster), needle) {
			continue
		}
		rows = append(rows, x)
	}
	by := map[string]func(a, b *api.Request) int{
		"name":    func(a, b *api.Request) int { return strings.Compare(a.Name, b.Name) },
		"user":    func(a, b *api.Request) int { return strings.Compare(a.User, b.User) },
		"status":  func(a, b *api.Request) int { return strings.Compare(string(a.Status), string(b.Status)) },
		"created": func(a, b *api.Request) int { return a.Created.Compare(b.Created) },
	}
	sortRows(rows, by, q, func(a, b *api.Request) int { return strings.Compare(a.ID, b.ID) })
	shown, pg := paginate(rows, q)
	h.render(w, r, http.StatusOK, "requests", page{Title: "Requests", Nav: "requests",
		Data: map[string]any{"Rows": shown, "Pager": pg, "Query": q, "States": requestStates}})
}

// request is one request: what it was, its events (its log) and its outcome.
func (h *Handler) request(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	q, events, err := h.opts.Backend.Request(r.Context(), id)
	if err != nil {
		h.backendError(w, r, err, Prefix+"/requests", "the requests")
		return
	}
	result := ""
	if len(q.Result) > 0 {
		var buf bytes.Buffer
		if json.Indent(&buf, q.Result, "", "  ") == nil {
			result = buf.String()
		}
	}
	h.render(w, r, http.StatusOK, "request", page{Title: fmt.Sprintf("Request %s (%s)", shortID(q.ID), q.Name), Nav: "requests",
		Data: map[string]any{"R": q, "Events": events, "Result": result}})
}
