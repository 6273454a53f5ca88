package dashboard

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stix-run/stix/api"
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

// managedStatesURL is the live states' stream of a managed jobs page: the page's query and the jobs it shows.
func managedStatesURL(q listQuery, shown []*jobGroup) string {
	v, _ := url.ParseQuery(strings.TrimPrefix(q.with("", ""), "?"))
	for _, g := range shown {
		v.Add("id", strconv.FormatInt(g.ID, 10))
	}
	if len(v) == 0 {
		return Prefix + "/events/jobs"
	}
	return Prefix + "/events/jobs?" + v.Encode()
}

// liveManagedJobs streams the states of a managed jobs page (its q, state, sort, desc and page: the rows the
// page would show now, so that new ones are announced) and of the jobs it shows (id, repeated), whatever page
// they are on now: one page of the queue, not the whole of it, where the backend filters and sorts.
func (h *Handler) liveManagedJobs(w http.ResponseWriter, r *http.Request) {
	q := readListQuery(r, "id", true)
	var shown []int64
	for _, v := range r.URL.Query()["id"] {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil && id > 0 && len(shown) < PageSize {
			shown = append(shown, id)
		}
	}
	h.followStates(w, r, managedPageStates(q, shown))
}

func managedPageStates(q listQuery, shown []int64) states {
	return func(ctx context.Context, b Backend) (map[string]string, error) {
		if !managedSort(q.Sort) {
			return readManagedJobStates(ctx, b)
		}
		rows, _, err := b.ManagedJobPage(ctx, managedQuery(q, (q.Page-1)*PageSize))
		if errors.Is(err, errors.ErrUnsupported) {
			return readManagedJobStates(ctx, b)
		}
		if err != nil {
			return nil, err
		}
		out := make(map[string]string, len(rows))
		for _, g := range groupJobs(rows) {
			out[strconv.FormatInt(g.ID, 10)] = string(g.Status)
		}
		var gone []int64 // shown, and no longer on the page
		for _, id := range shown {
			if _, ok := out[strconv.FormatInt(id, 10)]; !ok {
				gone = append(gone, id)
			}
		}
		if len(gone) > 0 {
			more, err := b.ManagedJobs(ctx, gone...)
			if err != nil {
				return nil, err
			}
			for _, g := range groupJobs(more) {
				out[strconv.FormatInt(g.ID, 10)] = string(g.Status)
			}
		}
		return out, nil
	}
}

func readServiceStates(ctx context.Context, b Backend) (map[string]string, error) {
	ss, err := b.Services(ctx)
	out := make(map[string]string, len(ss))
	for _, s := range ss {
		out[s.Name] = string(s.Status)
	}
	return out, err
}

// clusterDetailStates reads one cluster's page's states: "cluster" (its state), "node/RANK" and "job/ID". The jobs
// are read from the cluster's head while it is UP; otherwise they stay as last read. A cluster that goes away
// while its page is open is "" with all its rows; one that is not there (or not the caller's) at the first read
// is the page's error.
func clusterDetailStates(name string) states {
	var jobs map[string]string
	seen := false
	return func(ctx context.Context, b Backend) (map[string]string, error) {
		c, err := b.Cluster(ctx, name)
		var nf *api.ClusterNotFoundError
		if seen && errors.As(err, &nf) {
			jobs = nil
			return map[string]string{"cluster": ""}, nil
		}
		if err != nil {
			return nil, err
		}
		seen = true
		out := map[string]string{"cluster": string(c.Status)}
		nodes, err := b.Nodes(ctx, name)
		if err != nil && !errors.As(err, &nf) {
			return nil, err
		}
		for _, n := range nodes {
			out["node/"+strconv.Itoa(n.Rank)] = string(n.Status)
		}
		if c.Status == api.ClusterUp {
			if js, err := b.Queue(ctx, name); err == nil {
				jobs = make(map[string]string, len(js))
				for _, j := range js {
					jobs["job/"+strconv.Itoa(j.ID)] = string(j.Status)
				}
			}
		}
		maps.Copy(out, jobs)
		return out, nil
	}
}

// serviceDetailStates reads one service's page's states: "service", "replica/ID" and "qps" (requests per second
// over the last minute, as the page prints it).
func serviceDetailStates(name string) states {
	seen := false
	return func(ctx context.Context, b Backend) (map[string]string, error) {
		ss, err := b.Services(ctx)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(ss, func(s api.Service) bool { return s.Name == name })
		if i < 0 {
			if !seen {
				return nil, &api.Error{Code: api.CodeNotFound, Status: http.StatusNotFound, Message: fmt.Sprintf("There is no service %q.", name)}
			}
			return map[string]string{"service": ""}, nil
		}
		seen = true
		s := ss[i]
		out := map[string]string{"service": string(s.Status), "qps": fmt.Sprintf("%.1f", s.QPS)}
		for _, r := range s.Replicas {
			out["replica/"+strconv.Itoa(r.ID)] = string(r.Status)
		}
		return out, nil
	}
}

// liveStates streams a page's states as server-sent events: a "states" event, a JSON object of key (a list's
// row: a cluster's name, a managed job's ID, a service's name; a detail page's thing: see clusterDetailStates) to
// state, first with every key, then with those that changed ("" for one that is gone), read again every
// StateInterval through the Backend (what the caller may see, as the page). The page updates its state badges
// and says when rows appeared. The stream ends with the page. A failed first read is the page's HTTP error
// (a 404, a 403), with no stream; a later one ends the stream with a "fail" event.
func (h *Handler) liveStates(read states) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { h.followStates(w, r, read) }
}

func (h *Handler) liveCluster(w http.ResponseWriter, r *http.Request) {
	h.followStates(w, r, clusterDetailStates(r.PathValue("cluster")))
}

func (h *Handler) liveService(w http.ResponseWriter, r *http.Request) {
	h.followStates(w, r, serviceDetailStates(r.PathValue("name")))
}

func (h *Handler) followStates(w http.ResponseWriter, r *http.Request, read states) {
	ctx := r.Context()
	now, err := read(ctx, h.opts.Backend)
	if err != nil {
		http.Error(w, api.WireError(err).Message, statusOf(err))
		return
	}
	s := startSSE(w, r)
	seen := map[string]string{}
	tick := time.NewTicker(h.opts.StateInterval)
	defer tick.Stop()
	var n int64
	for {
		changed := map[string]string{}
		for k, st := range now {
			if old, ok := seen[k]; !ok || old != st {
				changed[k] = st
			}
		}
		for k := range seen {
			if _, ok := now[k]; !ok {
				changed[k] = ""
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
		if now, err = read(ctx, h.opts.Backend); err != nil {
			s.end("", err)
			return
		}
	}
}
