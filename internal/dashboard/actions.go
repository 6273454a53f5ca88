package dashboard

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
)

// An action is a page that asks for confirmation (GET, readable without JavaScript) and a form POST, with the
// CSRF token, that makes the API call as the caller. Done on something in the wrong state (stopping a stopped
// cluster), it says so and does nothing.
type action struct {
	path    string // under Prefix
	verb    string // "Stop": the button says "Stop cluster dev"
	prepare func(h *Handler, r *http.Request) (plan, error)
}

// plan is what an action will do, or why it will not.
type plan struct {
	What    string // "cluster dev"
	Back    string // the page to go back to
	Warning string // what it does, on the confirmation page
	APIPath string
	Body    any
	// Do, when set, is the action instead of a request to APIPath: an API call answered at once (no request ID).
	Do func() error
	// Refusal, when set, says why the action cannot be done now (the wrong state): nothing is done.
	Refusal string
}

var actions = []action{
	{path: "/clusters/{cluster}/stop", verb: "Stop", prepare: clusterAction("stop", "Stop",
		"The cluster's nodes stop: its jobs end, its disks are kept (and billed); start it again later.",
		func(c api.Cluster) string {
			if c.Status != api.ClusterUp {
				return fmt.Sprintf("Cluster %s is %s: only an UP cluster can be stopped.", c.Name, c.Status)
			}
			return ""
		})},
	{path: "/clusters/{cluster}/start", verb: "Start", prepare: clusterAction("start", "Start",
		"The cluster's nodes start again.",
		func(c api.Cluster) string {
			if c.Status == api.ClusterUp {
				return fmt.Sprintf("Cluster %s is already UP.", c.Name)
			}
			return ""
		})},
	{path: "/clusters/{cluster}/down", verb: "Tear down", prepare: clusterAction("down", "Down",
		"The cluster is torn down: its nodes and disks are deleted, with everything on them. This cannot be undone.",
		func(api.Cluster) string { return "" })},
	{path: "/clusters/{cluster}/jobs/{id}/cancel", verb: "Cancel", prepare: func(h *Handler, r *http.Request) (plan, error) {
		name := r.PathValue("cluster")
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil {
			return plan{}, &api.JobNotFoundError{Cluster: name}
		}
		if _, err := h.opts.Backend.Cluster(r.Context(), name); err != nil {
			return plan{}, err
		}
		jobs, err := h.opts.Backend.Queue(r.Context(), name)
		if err != nil {
			return plan{}, err
		}
		i := slices.IndexFunc(jobs, func(j api.Job) bool { return j.ID == id })
		if i < 0 {
			return plan{}, &api.JobNotFoundError{Cluster: name, ID: id}
		}
		p := plan{What: fmt.Sprintf("job %d on cluster %s", id, name),
			Back:    fmt.Sprintf("%s/clusters/%s/jobs/%d", Prefix, url.PathEscape(name), id),
			Warning: "The job's processes are killed on every node.", APIPath: "/api/v1/cancel",
			Body: map[string]any{"cluster": name, "job_ids": []int{id}}}
		if s := jobs[i].Status; s.IsTerminal() {
			p.Refusal = fmt.Sprintf("Job %d has ended (%s): there is nothing to cancel.", id, s)
		}
		return p, nil
	}},
	{path: "/jobs/{id}/cancel", verb: "Cancel", prepare: func(h *Handler, r *http.Request) (plan, error) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id < 1 {
			return plan{}, notFoundError(fmt.Sprintf("There is no managed job %q.", r.PathValue("id")))
		}
		rows, err := h.opts.Backend.ManagedJobs(r.Context(), id)
		if err != nil {
			return plan{}, err
		}
		g := groupJobs(rows)
		if len(g) == 0 {
			return plan{}, notFoundError(fmt.Sprintf("There is no managed job %d.", id))
		}
		p := plan{What: fmt.Sprintf("managed job %d (%s)", id, g[0].First.Name), Back: fmt.Sprintf("%s/jobs/%d", Prefix, id),
			Warning: "The job is cancelled and its cluster torn down; it is not recovered.",
			APIPath: allUsers(r, "/api/v1/jobs/cancel"), Body: api.JobsCancelRequest{IDs: []int64{id}}}
		if g[0].Status.Terminal() {
			p.Refusal = fmt.Sprintf("Managed job %d has ended (%s): there is nothing to cancel.", id, g[0].Status)
		}
		return p, nil
	}},
	{path: "/services/{name}/down", verb: "Tear down", prepare: func(h *Handler, r *http.Request) (plan, error) {
		name := r.PathValue("name")
		ss, err := h.opts.Backend.Services(r.Context())
		if err != nil {
			return plan{}, err
		}
		if !slices.ContainsFunc(ss, func(s api.Service) bool { return s.Name == name }) {
			return plan{}, notFoundError(fmt.Sprintf("There is no service %q.", name))
		}
		return plan{What: "service " + name, Back: Prefix + "/services/" + url.PathEscape(name),
			Warning: "The service's replicas and load balancer are torn down; its endpoint stops answering.",
			APIPath: allUsers(r, "/api/v1/serve/down"), Body: api.ServeDownRequest{Names: []string{name}}}, nil
	}},
	revokeToken,
}

// allUsers asks the API for every user's resources when the caller is an admin (the API's rule for jobs and
// services: without it, even an admin acts on their own).
func allUsers(r *http.Request, path string) string {
	if id, _ := auth.From(r.Context()); id.IsAdmin() {
		return path + "?all_users=true"
	}
	return path
}

func notFoundError(msg string) error {
	return &api.Error{Code: api.CodeNotFound, Status: http.StatusNotFound, Message: msg}
}

// clusterAction is the plan of stop, start and down: the API's call on the cluster, refused by wrong.
func clusterAction(call, verb, warning string, wrong func(api.Cluster) string) func(*Handler, *http.Request) (plan, error) {
	return func(h *Handler, r *http.Request) (plan, error) {
		c, err := h.opts.Backend.Cluster(r.Context(), r.PathValue("cluster"))
		if err != nil {
			return plan{}, err
		}
		return plan{What: "cluster " + c.Name, Back: Prefix + "/clusters/" + url.PathEscape(c.Name), Warning: warning,
			APIPath: "/api/v1/" + call, Body: map[string]any{"cluster": c.Name}, Refusal: wrong(c)}, nil
	}
}

func (h *Handler) confirm(a action) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := a.prepare(h, r)
		if err != nil {
			h.backendError(w, r, err, Prefix+"/clusters", "the clusters")
			return
		}
		status := http.StatusOK
		if p.Refusal != "" {
			status = http.StatusConflict
		}
		h.render(w, r, status, "confirm", page{Title: a.verb + " " + p.What, Error: p.Refusal,
			Data: map[string]any{"Verb": a.verb, "P": p, "Action": r.URL.Path}})
	}
}

func (h *Handler) act(a action) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !checkCSRF(r) {
			h.errorPage(w, r, http.StatusForbidden, "Refused: the form did not come from this dashboard, or it expired. "+
				"Reload the page and try again.")
			return
		}
		p, err := a.prepare(h, r)
		if err != nil {
			h.backendError(w, r, err, Prefix+"/clusters", "the clusters")
			return
		}
		fail := func(status int, msg string) {
			h.render(w, r, status, "confirm", page{Title: a.verb + " " + p.What, Error: msg,
				Data: map[string]any{"Verb": a.verb, "P": plan{What: p.What, Back: p.Back}, "Action": r.URL.Path}})
		}
		if p.Refusal != "" {
			fail(http.StatusConflict, p.Refusal+" Nothing was done.")
			return
		}
		var id, flash string
		if p.Do != nil {
			err = p.Do()
			flash = fmt.Sprintf("%s %s: done.", a.verb, p.What)
		} else {
			id, err = h.opts.Backend.Submit(r.Context(), p.APIPath, p.Body)
			flash = fmt.Sprintf("%s %s: requested (request %s).", a.verb, p.What, shortID(id))
		}
		if err != nil {
			fail(statusOf(err), api.WireError(err).Message)
			return
		}
		who, _ := auth.From(r.Context())
		h.opts.Log.Info("dashboard action", "action", a.verb, "target", p.What, "user", who.Name, "request_id", id)
		setCookie(w, r, flashCookie, url.QueryEscape(flash), time.Time{})
		http.Redirect(w, r, p.Back, http.StatusSeeOther)
	}
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
