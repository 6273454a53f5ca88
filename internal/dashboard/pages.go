package dashboard

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/stix-run/stix/api"
)

// PageSize is how many rows a list shows per page: thousands of clusters or jobs stay a light page.
const PageSize = 100

// listQuery is a list's filter, sort and page, read from the query string, so that they work without
// JavaScript and a view can be bookmarked.
type listQuery struct {
	Q     string // text the row must contain
	State string // the state the row must be in
	Sort  string
	Desc  bool
	Page  int // from 1
}

func readListQuery(r *http.Request, defaultSort string, defaultDesc bool) listQuery {
	v := r.URL.Query()
	q := listQuery{Q: strings.TrimSpace(v.Get("q")), State: v.Get("state"), Sort: v.Get("sort"), Page: 1}
	if q.Sort == "" {
		q.Sort, q.Desc = defaultSort, defaultDesc
	} else {
		q.Desc = v.Get("desc") == "1"
	}
	if p, err := strconv.Atoi(v.Get("page")); err == nil && p > 1 {
		q.Page = p
	}
	return q
}

// with returns the query string of q with one field changed, for links.
func (q listQuery) with(key, value string) string {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("q", q.Q)
	set("state", q.State)
	set("sort", q.Sort)
	if q.Desc {
		v.Set("desc", "1")
	}
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	if value == "" {
		v.Del(key)
	} else {
		v.Set(key, value)
	}
	return "?" + v.Encode()
}

// SortLink is the link of a column's header: sort by it, or reverse the sort when it is the current one.
func (q listQuery) SortLink(key string) string {
	q.Page = 1
	if q.Sort == key {
		q.Desc = !q.Desc
	} else {
		q.Sort, q.Desc = key, false
	}
	return q.with("sort", key)
}

// AriaSort is a column header's aria-sort.
func (q listQuery) AriaSort(key string) string {
	switch {
	case q.Sort != key:
		return "none"
	case q.Desc:
		return "descending"
	}
	return "ascending"
}

// pager is one page of a list and the links to the pages beside it.
type pager struct {
	Total, From, To int
	Prev, Next      string
}

func paginate[T any](rows []T, q listQuery) ([]T, pager) {
	start, end, p := pageOf(len(rows), q)
	return rows[start:end], p
}

// pageOf is the page q asks for of a list of total rows (the last one when it asks for a page past the end):
// the rows' indexes [start, end) and the pager.
func pageOf(total int, q listQuery) (start, end int, p pager) {
	p = pager{Total: total}
	start = (q.Page - 1) * PageSize
	if start >= total {
		start = max(0, (total-1)/PageSize*PageSize)
		q.Page = start/PageSize + 1
	}
	end = min(start+PageSize, total)
	p.From, p.To = start+1, end
	if total == 0 {
		p.From = 0
	}
	if q.Page > 1 {
		p.Prev = q.with("page", strconv.Itoa(q.Page-1))
	}
	if end < total {
		p.Next = q.with("page", strconv.Itoa(q.Page+1))
	}
	return start, end, p
}

// clusterRow is a cluster with its cost so far.
type clusterRow struct {
	api.Cluster
	Cost    float64
	HasCost bool
}

var clusterStates = []string{string(api.ClusterUp), string(api.ClusterInit), string(api.ClusterStopped)}

func (h *Handler) clusters(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	cs, err := h.opts.Backend.Clusters(ctx)
	if err != nil {
		h.backendError(w, r, err, Prefix+"/clusters", "the clusters")
		return
	}
	costs := map[string]float64{}
	if report, err := h.opts.Backend.CostReport(ctx); err == nil {
		for _, e := range report {
			if e.Status != "TERMINATED" {
				costs[e.Name] = e.TotalCost
			}
		}
	}
	q := readListQuery(r, "launched", true)
	needle := strings.ToLower(q.Q)
	rows := make([]*clusterRow, 0, len(cs))
	for _, c := range cs {
		if q.State != "" && string(c.Status) != q.State {
			continue
		}
		if needle != "" && !strings.Contains(strings.ToLower(c.Name+" "+c.User+" "+c.Infra+" "+c.Resources+" "+c.Workspace), needle) {
			continue
		}
		cost, ok := costs[c.Name]
		rows = append(rows, &clusterRow{Cluster: c, Cost: cost, HasCost: ok})
	}
	by := map[string]func(a, b *clusterRow) int{
		"name":     func(a, b *clusterRow) int { return strings.Compare(a.Name, b.Name) },
		"status":   func(a, b *clusterRow) int { return strings.Compare(string(a.Status), string(b.Status)) },
		"user":     func(a, b *clusterRow) int { return strings.Compare(a.User, b.User) },
		"infra":    func(a, b *clusterRow) int { return strings.Compare(a.Infra, b.Infra) },
		"launched": func(a, b *clusterRow) int { return a.LaunchedAt.Compare(b.LaunchedAt) },
		"cost":     func(a, b *clusterRow) int { return cmp.Compare(a.Cost, b.Cost) },
	}
	sortRows(rows, by, q, func(a, b *clusterRow) int { return strings.Compare(a.Name, b.Name) })
	shown, pg := paginate(rows, q)
	h.render(w, r, http.StatusOK, "clusters", page{Title: "Clusters", Nav: "clusters",
		Data: map[string]any{"Rows": shown, "Pager": pg, "Query": q, "States": clusterStates, "All": len(cs)}})
}

// sortRows sorts rows by the query's column (by[q.Sort], else tie), ties by tie: a total order, so that a
// page of the list is the same from one load to the next. Rows are pointers: sorting moves no big structs.
func sortRows[T any](rows []T, by map[string]func(a, b T) int, q listQuery, tie func(a, b T) int) {
	f, ok := by[q.Sort]
	if !ok {
		f = tie
	}
	slices.SortFunc(rows, func(a, b T) int {
		c := f(a, b)
		if c == 0 {
			c = tie(a, b)
		}
		if q.Desc {
			return -c
		}
		return c
	})
}

func (h *Handler) cluster(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("cluster")
	c, err := h.opts.Backend.Cluster(ctx, name)
	if err != nil {
		h.backendError(w, r, err, Prefix+"/clusters", "the clusters")
		return
	}
	jobs, qerr := h.opts.Backend.Queue(ctx, name)
	slices.SortFunc(jobs, func(a, b api.Job) int { return b.ID - a.ID })
	nodes, nerr := h.opts.Backend.Nodes(ctx, name)
	data := map[string]any{"C": c, "Jobs": jobs, "QueueError": "", "Nodes": nodes, "NodesError": ""}
	if qerr != nil {
		data["QueueError"] = api.WireError(qerr).Message
	}
	if nerr != nil {
		data["NodesError"] = api.WireError(nerr).Message
	}
	h.render(w, r, http.StatusOK, "cluster", page{Title: "Cluster " + name, Nav: "clusters", Data: data})
}

// job is a cluster job's page: its state and its log, followed live.
func (h *Handler) job(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("cluster")
	back := Prefix + "/clusters/" + url.PathEscape(name)
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 1 {
		h.notFound(w, r, fmt.Sprintf("There is no job %q on cluster %s: a job ID is a whole number.", r.PathValue("id"), name), back, "cluster "+name)
		return
	}
	if _, err := h.opts.Backend.Cluster(ctx, name); err != nil {
		h.backendError(w, r, err, Prefix+"/clusters", "the clusters")
		return
	}
	jobs, err := h.opts.Backend.Queue(ctx, name)
	if err != nil {
		h.backendError(w, r, err, back, "cluster "+name)
		return
	}
	i := slices.IndexFunc(jobs, func(j api.Job) bool { return j.ID == id })
	if i < 0 {
		h.notFound(w, r, fmt.Sprintf("Cluster %s has no job %d.", name, id), back, "cluster "+name)
		return
	}
	h.render(w, r, http.StatusOK, "job", page{Title: fmt.Sprintf("Job %d on %s", id, name), Nav: "clusters", Data: map[string]any{"Cluster": name, "J": jobs[i],
		"Log": fmt.Sprintf("%s/jobs/%d/log", back, id)}})
}

// jobGroup is a managed job: its tasks' rows (one for a single task).
type jobGroup struct {
	ID    int64
	Tasks []api.ManagedJob
	First *api.ManagedJob
	// Status is the job's: the first task not done, else the last.
	Status     api.ManagedJobStatus
	Recoveries int
}

func groupJobs(rows []api.ManagedJob) []*jobGroup {
	out := make([]*jobGroup, 0, len(rows))
	at := make(map[int64]*jobGroup, len(rows))
	for i := range rows {
		j := &rows[i]
		g, ok := at[j.ID]
		if !ok {
			g = &jobGroup{ID: j.ID, First: j}
			at[j.ID] = g
			out = append(out, g)
		}
		g.Tasks = append(g.Tasks, *j)
		g.Recoveries += j.Recoveries
	}
	for _, g := range out {
		slices.SortFunc(g.Tasks, func(a, b api.ManagedJob) int { return a.TaskID - b.TaskID })
		g.Status = g.Tasks[len(g.Tasks)-1].Status
		for _, t := range g.Tasks {
			if !t.Status.Terminal() || t.Status.Failed() || t.Status == api.ManagedCancelled {
				g.Status = t.Status
				break
			}
		}
	}
	return out
}

func (h *Handler) managedJobs(w http.ResponseWriter, r *http.Request) {
	q := readListQuery(r, "id", true)
	if managedSort(q.Sort) {
		// The store filters, sorts and reads one page, where the backend can.
		if h.managedJobPage(w, r, q) {
			return
		}
	}
	rows, err := h.opts.Backend.ManagedJobs(r.Context())
	if err != nil {
		h.backendError(w, r, err, Prefix+"/clusters", "the clusters")
		return
	}
	needle := strings.ToLower(q.Q)
	var groups []*jobGroup
	for _, g := range groupJobs(rows) {
		if q.State != "" && string(g.Status) != q.State {
			continue
		}
		if needle != "" && !strings.Contains(strings.ToLower(fmt.Sprint(g.ID)+" "+g.First.Name+" "+g.First.User+" "+g.First.Infra+" "+g.First.Resources), needle) {
			continue
		}
		groups = append(groups, g)
	}
	by := map[string]func(a, b *jobGroup) int{
		"name":       func(a, b *jobGroup) int { return strings.Compare(a.First.Name, b.First.Name) },
		"status":     func(a, b *jobGroup) int { return strings.Compare(string(a.Status), string(b.Status)) },
		"user":       func(a, b *jobGroup) int { return strings.Compare(a.First.User, b.First.User) },
		"submitted":  func(a, b *jobGroup) int { return a.First.SubmittedAt.Compare(b.First.SubmittedAt) },
		"recoveries": func(a, b *jobGroup) int { return a.Recoveries - b.Recoveries },
	}
	sortRows(groups, by, q, func(a, b *jobGroup) int { return cmp.Compare(a.ID, b.ID) })
	shown, pg := paginate(groups, q)
	h.render(w, r, http.StatusOK, "managed_jobs", page{Title: "Managed jobs", Nav: "jobs",
		Data: map[string]any{"Rows": shown, "Pager": pg, "Query": q, "States": managedStates, "StatesURL": managedStatesURL(q, shown)}})
}

// managedSort reports whether key is one of the managed jobs page's sort keys: the queue's
// (api.JobsQueueOptions.Sort).
func managedSort(key string) bool {
	switch key {
	case "id", "name", "status", "user", "submitted", "recoveries":
		return true
	}
	return false
}

// managedQuery is the page's list query as the queue's options: newest first is the queue's default order.
func managedQuery(q listQuery, offset int) api.JobsQueueOptions {
	o := api.JobsQueueOptions{Status: api.ManagedJobStatus(q.State), Search: q.Q, Sort: q.Sort, Desc: q.Desc, Offset: offset, Limit: PageSize}
	if q.Sort == "id" && q.Desc {
		o.Sort, o.Desc = "", false
	}
	return o
}

// managedJobPage renders the managed jobs page from one page of the queue, filtered and sorted by the backend;
// false when the backend cannot (errors.ErrUnsupported) and nothing was written.
func (h *Handler) managedJobPage(w http.ResponseWriter, r *http.Request, q listQuery) bool {
	ctx := r.Context()
	rows, total, err := h.opts.Backend.ManagedJobPage(ctx, managedQuery(q, (q.Page-1)*PageSize))
	if err == nil && len(rows) == 0 && total > 0 {
		// Past the end: the last page, as the other lists.
		start, _, _ := pageOf(total, q)
		rows, total, err = h.opts.Backend.ManagedJobPage(ctx, managedQuery(q, start))
	}
	if errors.Is(err, errors.ErrUnsupported) {
		return false
	}
	if err != nil {
		h.backendError(w, r, err, Prefix+"/clusters", "the clusters")
		return true
	}
	groups := groupJobs(rows) // in the rows' order: the backend's
	_, _, pg := pageOf(total, q)
	h.render(w, r, http.StatusOK, "managed_jobs", page{Title: "Managed jobs", Nav: "jobs",
		Data: map[string]any{"Rows": groups, "Pager": pg, "Query": q, "States": managedStates, "StatesURL": managedStatesURL(q, groups)}})
	return true
}

var managedStates = []string{"PENDING", "STARTING", "RUNNING", "RECOVERING", "CANCELLING", "SUCCEEDED", "CANCELLED",
	"FAILED", "FAILED_SETUP", "FAILED_PRECHECKS", "FAILED_NO_RESOURCE", "FAILED_CONTROLLER"}

func (h *Handler) managedJob(w http.ResponseWriter, r *http.Request) {
	back := Prefix + "/jobs"
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		h.notFound(w, r, fmt.Sprintf("There is no managed job %q: a job ID is a whole number.", r.PathValue("id")), back, "the managed jobs")
		return
	}
	rows, err := h.opts.Backend.ManagedJobs(r.Context(), id)
	if err != nil {
		h.backendError(w, r, err, back, "the managed jobs")
		return
	}
	groups := groupJobs(rows)
	if len(groups) == 0 || groups[0].ID != id {
		h.notFound(w, r, fmt.Sprintf("There is no managed job %d.", id), back, "the managed jobs")
		return
	}
	h.render(w, r, http.StatusOK, "managed_job", page{Title: fmt.Sprintf("Managed job %d", id), Nav: "jobs", Data: map[string]any{"G": groups[0], "Log": fmt.Sprintf("%s/%d/log", back, id)}})
}

// serviceRow is a service with its replicas counted and its versions listed.
type serviceRow struct {
	api.Service
	Ready    int
	Versions []int
}

func newServiceRow(s api.Service) serviceRow {
	row := serviceRow{Service: s}
	for _, rep := range s.Replicas {
		if rep.Status == "READY" {
			row.Ready++
		}
		if !slices.Contains(row.Versions, rep.Version) {
			row.Versions = append(row.Versions, rep.Version)
		}
	}
	slices.Sort(row.Versions)
	return row
}

func (h *Handler) services(w http.ResponseWriter, r *http.Request) {
	ss, err := h.opts.Backend.Services(r.Context())
	if err != nil {
		h.backendError(w, r, err, Prefix+"/clusters", "the clusters")
		return
	}
	slices.SortFunc(ss, func(a, b api.Service) int { return strings.Compare(a.Name, b.Name) })
	rows := make([]serviceRow, 0, len(ss))
	for _, s := range ss {
		rows = append(rows, newServiceRow(s))
	}
	h.render(w, r, http.StatusOK, "services", page{Title: "Services", Nav: "services",
		Data: map[string]any{"Rows": rows}})
}

func (h *Handler) service(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	ss, err := h.opts.Backend.Services(r.Context())
	if err != nil {
		h.backendError(w, r, err, Prefix+"/services", "the services")
		return
	}
	i := slices.IndexFunc(ss, func(s api.Service) bool { return s.Name == name })
	if i < 0 {
		h.notFound(w, r, fmt.Sprintf("There is no service %q.", name), Prefix+"/services", "the services")
		return
	}
	h.render(w, r, http.StatusOK, "service", page{Title: "Service " + name, Nav: "services", Data: map[string]any{"S": newServiceRow(ss[i])}})
}
