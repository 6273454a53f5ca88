package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/stix-run/stix/api"
)

var requestStates = []string{string(api.RequestPending), string(api.RequestRunning), string(api.RequestSucceeded),
	string(api.RequestFailed), string(api.RequestCancelled)}

// requests is the API server's request queue, as `stix api status -a`: the caller's requests (an admin: every
// user's), with filter, sort and pages as the other lists. The store filters, sorts and cuts the page: the page
// costs the same with a hundred requests or a hundred thousand.
func (h *Handler) requests(w http.ResponseWriter, r *http.Request) {
	q := readListQuery(r, "created", true)
	if !slices.Contains(api.RequestSortKeys(), q.Sort) {
		q.Sort, q.Desc = "created", true
	}
	if !slices.Contains(requestStates, q.State) {
		q.State = ""
	}
	f := api.RequestFilter{Status: api.RequestStatus(q.State), Search: q.Q, Sort: q.Sort, Desc: q.Desc,
		Offset: (q.Page - 1) * PageSize, Limit: PageSize}
	rows, total, err := h.opts.Backend.Requests(r.Context(), f)
	if err == nil && len(rows) == 0 && total > 0 {
		// Past the end: the last page, as the other lists.
		start, _, _ := pageOf(total, q)
		f.Offset = start
		rows, total, err = h.opts.Backend.Requests(r.Context(), f)
	}
	if err != nil {
		h.backendError(w, r, err, Prefix+"/clusters", "the clusters")
		return
	}
	_, _, pg := pageOf(total, q)
	h.render(w, r, http.StatusOK, "requests", page{Title: "Requests", Nav: "requests",
		Data: map[string]any{"Rows": rows, "Pager": pg, "Query": q, "States": requestStates}})
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
