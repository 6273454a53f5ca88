package services

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/serve"
	"github.com/stix-run/stix/internal/spec"
)

// Client is an api.Client whose `serve` calls the controller answers; every other call goes to the embedded
// api.Client (the core, or the managed-jobs controller's client over it).
type Client struct {
	api.Client
	ctl *Controller
}

// Client returns next with `serve` answered by c: what the API server serves.
func (c *Controller) Client(next api.Client) *Client { return &Client{Client: next, ctl: c} }

// ServeUp starts a service.
func (c *Client) ServeUp(ctx context.Context, req api.ServeUpRequest) (*api.Operation[api.ServeUpResult], error) {
	return c.ctl.ServeUp(ctx, req)
}

// ServeUpdate is not supported yet.
func (c *Client) ServeUpdate(ctx context.Context, req api.ServeUpdateRequest) (*api.Operation[api.ServeUpdateResult], error) {
	return c.ctl.ServeUpdate(ctx, req)
}

// ServeStatus lists services.
func (c *Client) ServeStatus(ctx context.Context, names []string) ([]api.Service, error) {
	return c.ctl.ServeStatus(ctx, names)
}

// ServeDown tears services down.
func (c *Client) ServeDown(ctx context.Context, req api.ServeDownRequest) (*api.Operation[[]api.ServeDownOutcome], error) {
	return c.ctl.ServeDown(ctx, req)
}

// ServeLogs writes a service's logs.
func (c *Client) ServeLogs(ctx context.Context, name string, opts api.ServeLogsOptions, w io.Writer) error {
	return c.ctl.ServeLogs(ctx, name, opts, w)
}

func badRequest(format string, args ...any) error {
	return &api.Error{Code: api.CodeBadRequest, Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

// parseService reads a service's task as `serve up` takes it: one task with a service section and one replica
// port (spec.ServiceOf's checks).
func parseService(ts api.TaskSpec) (*spec.Task, *spec.ServiceSpec, int, error) {
	if ts.YAML == "" && ts.FileName == "" {
		return nil, nil, 0, badRequest("a service needs a service YAML (a task YAML with a service: section), not a command")
	}
	p, err := spec.Load(ts.FileName, []byte(ts.YAML), spec.LoadOptions{Env: ts.Env, Secrets: ts.Secrets})
	if err != nil {
		return nil, nil, 0, err
	}
	if len(p.Tasks) != 1 {
		return nil, nil, 0, badRequest("%s: a service YAML holds one task, got %d", ts.FileName, len(p.Tasks))
	}
	t := p.Tasks[0]
	o := ts.Overrides
	o.Name = nil
	if err := t.ApplyOverrides(o); err != nil {
		return nil, nil, 0, err
	}
	svc, port, err := spec.ServiceOf(t, ts.FileName)
	if err != nil {
		return nil, nil, 0, err
	}
	if svc.TLS != nil {
		if err := svc.TLS.CheckFiles(); err != nil {
			return nil, nil, 0, err
		}
	}
	return t, svc, port, nil
}

// validServiceName is SkyPilot's rule for a cluster name (a letter, then letters, digits, '-', '_' or '.',
// ending with a letter or digit): a service's name starts its replicas' clusters'. Checked by hand, not with a
// package-level regexp, which would cost every CLI start.
func validServiceName(n string) bool {
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	if n == "" || !(n[0] >= 'a' && n[0] <= 'z' || n[0] >= 'A' && n[0] <= 'Z') || !alnum(n[len(n)-1]) {
		return false
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; !alnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// ServeUp checks the service (its task through the core, its service section), takes a port of SkyServe's
// range for its load balancer, records it CONTROLLER_INIT and starts running it; the operation's result names
// it and its endpoint.
func (c *Controller) ServeUp(ctx context.Context, req api.ServeUpRequest) (*api.Operation[api.ServeUpResult], error) {
	ts := req.Task
	t, _, _, err := parseService(ts)
	if err != nil {
		return nil, err
	}
	chk, err := c.opts.Core.Validate(ctx, ts)
	if err != nil {
		return nil, err
	}
	if err := chk.Err(); err != nil {
		return nil, err
	}
	name := req.Name
	if name == "" && ts.Overrides.Name != nil {
		name = *ts.Overrides.Name
	}
	if name == "" {
		name = t.Name
	}
	if name == "" {
		b := make([]byte, 2)
		_, _ = rand.Read(b)
		name = "sky-service-" + hex.EncodeToString(b)
	}
	if !validServiceName(name) {
		return nil, badRequest("service name %q: start with a letter, then letters, digits, '-', '_' or '.', and end with a letter or digit", name)
	}
	if _, err := c.st.Get(ctx, name); err == nil {
		return nil, badRequest("service %q already exists: update it with `stix serve update %s SERVICE_YAML`, or choose another name with -n", name, name)
	}
	user, _ := caller(ctx)
	return api.Go(ctx, "", func(ctx context.Context, emit func(api.Event)) (api.ServeUpResult, error) {
		ln, err := serve.ListenInRange(c.opts.Host, serve.PortRangeStart, serve.PortRangeEnd)
		if err != nil {
			return api.ServeUpResult{}, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		row := &Row{Name: name, User: user, CreatedAt: c.opts.Now(), Status: api.ServiceControllerInit, Version: 1, LBPort: port,
			Spec: Spec{Versions: map[int]api.TaskSpec{1: ts}}}
		if err := c.st.Insert(context.WithoutCancel(ctx), row); err != nil {
			ln.Close()
			if errors.Is(err, ErrExists) {
				return api.ServeUpResult{}, badRequest("service %q already exists: choose another name with -n", name)
			}
			return api.ServeUpResult{}, fmt.Errorf("record service: %w", err)
		}
		c.handOver(name, ln)
		c.startRunner(name)
		emit(api.Event{Type: api.EventStep, Msg: fmt.Sprintf("Service %s: load balancer on port %d; launching replicas", name, port)})
		return api.ServeUpResult{Name: name, Endpoint: c.endpoint(row, t.Service)}, nil
	}), nil
}

// endpoint is a service's address as `serve status` shows it: host:port, https:// with tls.
func (c *Controller) endpoint(row *Row, svc *spec.ServiceSpec) string {
	ep := net.JoinHostPort(c.opts.Host, strconv.Itoa(row.LBPort))
	if svc != nil && svc.TLS != nil {
		ep = "https://" + ep
	}
	return ep
}

// handOver keeps the listener ServeUp opened for the service's runner, so that the port it reported is the one
// the load balancer serves on.
func (c *Controller) handOver(name string, ln net.Listener) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.listeners == nil {
		c.listeners = map[string]net.Listener{}
	}
	c.listeners[name] = ln
}

func (c *Controller) takeListener(name string) net.Listener {
	c.mu.Lock()
	defer c.mu.Unlock()
	ln := c.listeners[name]
	delete(c.listeners, name)
	return ln
}

// ServeUpdate records a new version of a running service's task and tells its runner, which launches replicas
// of the new version and retires the old ones (rolling: as new ones become READY; blue_green: once
// min_replicas new ones are READY). A bad task, an unknown service or one shutting down changes nothing.
func (c *Controller) ServeUpdate(ctx context.Context, req api.ServeUpdateRequest) (*api.Operation[api.ServeUpdateResult], error) {
	mode := req.Mode
	if mode == "" {
		mode = string(serve.UpdateRolling)
	}
	if mode != string(serve.UpdateRolling) && mode != string(serve.UpdateBlueGreen) {
		return nil, badRequest("--mode %q: expected rolling or blue_green", req.Mode)
	}
	row, err := c.owned(ctx, req.Name)
	if err != nil {
		return nil, err
	}
	if row.Down || row.Status == api.ServiceShuttingDown {
		return nil, badRequest("service %s is shutting down: it cannot be updated", req.Name)
	}
	if _, _, _, err := parseService(req.Task); err != nil {
		return nil, err
	}
	chk, err := c.opts.Core.Validate(ctx, req.Task)
	if err != nil {
		return nil, err
	}
	if err := chk.Err(); err != nil {
		return nil, err
	}
	return api.Go(ctx, "", func(ctx context.Context, emit func(api.Event)) (api.ServeUpdateResult, error) {
		sp := row.Spec
		versions := make(map[int]api.TaskSpec, len(sp.Versions)+1)
		for v, ts := range sp.Versions {
			versions[v] = ts
		}
		version := row.Version + 1
		versions[version] = req.Task
		sp.Versions, sp.Mode = versions, mode
		if err := c.st.AddVersion(context.WithoutCancel(ctx), req.Name, version, sp); err != nil {
			return api.ServeUpdateResult{}, err
		}
		if r := c.runnerOf(req.Name); r != nil {
			r.updated()
		}
		emit(api.Event{Type: api.EventStep, Msg: fmt.Sprintf("Service %s: version %d (%s update)", req.Name, version, mode)})
		return api.ServeUpdateResult{Name: req.Name, Version: version}, nil
	}), nil
}

// ServeStatus lists the caller's services named (all theirs when none), with their replicas; an admin asking
// for all users sees every user's, and one naming a service sees it whoever owns it.
func (c *Controller) ServeStatus(ctx context.Context, names []string) ([]api.Service, error) {
	rows, err := c.st.List(ctx)
	if err != nil {
		return nil, err
	}
	id, _ := auth.From(ctx)
	now := c.opts.Now()
	out := []api.Service{}
	for _, row := range rows {
		if len(names) > 0 && !slices.Contains(names, row.Name) {
			continue
		}
		if !visible(ctx, row) && !(len(names) > 0 && id.IsAdmin()) {
			continue
		}
		s := api.Service{Name: row.Name, Status: row.Status, Version: row.Version, User: row.User, CreatedAt: row.CreatedAt,
			Message: row.Message, Replicas: []api.Replica{}}
		var svc *spec.ServiceSpec
		if _, sv, _, err := parseService(row.Spec.Versions[row.Version]); err == nil {
			svc, s.Policy = sv, sv.Policy()
		}
		s.Endpoint = c.endpoint(row, svc)
		s.QPS = savedQPS(row.Autoscaler, now)
		if row.Status == api.ServiceReady && !row.ReadySince.IsZero() {
			s.Uptime = api.Seconds(now.Sub(row.ReadySince))
		}
		reps, err := c.st.Replicas(ctx, row.Name)
		if err != nil {
			return nil, err
		}
		for _, r := range reps {
			s.Replicas = append(s.Replicas, api.Replica{ID: r.ID, Service: r.Service, Version: r.Version, Status: r.Status,
				Cluster: r.Cluster, Endpoint: r.Endpoint, LaunchedAt: r.LaunchedAt, Infra: r.Infra, Resources: r.Resources, Spot: r.Spot})
		}
		out = append(out, s)
	}
	return out, nil
}

// ServeDown asks each service's runner to tear it down and waits until it is gone (or FAILED_CLEANUP). A name
// with no service is an error, and nothing is torn down.
func (c *Controller) ServeDown(ctx context.Context, req api.ServeDownRequest) (*api.Operation[[]api.ServeDownOutcome], error) {
	if req.ReplicaID != 0 {
		return c.terminateReplica(ctx, req)
	}
	names := req.Names
	if req.All {
		rows, err := c.st.List(ctx)
		if err != nil {
			return nil, err
		}
		names = nil
		for _, r := range rows {
			if visible(ctx, r) {
				names = append(names, r.Name)
			}
		}
	} else if len(names) == 0 {
		return nil, badRequest("name the services to tear down, or pass -a for all")
	}
	for _, n := range names {
		if _, err := c.owned(ctx, n); err != nil {
			return nil, err
		}
	}
	return api.Go(ctx, "", func(ctx context.Context, emit func(api.Event)) ([]api.ServeDownOutcome, error) {
		var out []api.ServeDownOutcome
		for _, n := range names {
			if err := c.st.RequestDown(ctx, n); err != nil {
				return out, err
			}
			if r := c.runnerOf(n); r != nil {
				if req.Purge {
					r.purge.Store(true)
				}
				r.down()
			}
		}
		for _, n := range names {
			msg, err := c.waitGone(ctx, n, req.Purge)
			if err != nil {
				return out, err
			}
			out = append(out, api.ServeDownOutcome{Name: n, Message: msg})
			emit(api.Event{Type: api.EventStep, Msg: fmt.Sprintf("Service %s: %s", n, msg)})
		}
		return out, nil
	}), nil
}

// waitGone waits until a service asked down is forgotten, or failed its cleanup (then, with purge, forgets it).
func (c *Controller) waitGone(ctx context.Context, name string, purge bool) (string, error) {
	for {
		row, err := c.st.Get(ctx, name)
		var nf *api.ServiceNotFoundError
		if errors.As(err, &nf) {
			return "terminated", nil
		}
		if err != nil {
			return "", err
		}
		if row.Status == api.ServiceFailedCleanup && c.runnerOf(name) == nil {
			if purge {
				return "purged (its replicas may have left resources behind)", c.forget(ctx, name)
			}
			return "", fmt.Errorf("service %s: %s", name, row.Message)
		}
		if row.Status == api.ServiceControllerFailed && c.runnerOf(name) == nil {
			return "terminated", c.forget(ctx, name)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// caller is the user a call acts as ("" when the caller is not known: the core's own user), and whether it
// sees every user's services (an admin whose ctx carries api.WithAllUsers, or an unidentified caller in
// process), as managed jobs' caller.
func caller(ctx context.Context) (string, bool) {
	id, ok := auth.From(ctx)
	if !ok {
		return "", true
	}
	return id.Name, id.IsAdmin() && api.AllUsers(ctx)
}

// visible reports whether row is among the services the caller lists and `serve down -a` reaches: their own,
// or every user's for caller's all.
func visible(ctx context.Context, row *Row) bool {
	user, all := caller(ctx)
	return all || row.User == user
}

// owned returns service name if the caller may act on it (theirs, or any for an admin), else the
// ServiceNotFoundError a missing service gets: another user's service is not theirs to know of.
func (c *Controller) owned(ctx context.Context, name string) (*Row, error) {
	row, err := c.st.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	if user, _ := caller(ctx); user != "" && row.User != user {
		if id, _ := auth.From(ctx); !id.IsAdmin() {
			return nil, &api.ServiceNotFoundError{Name: name}
		}
	}
	return row, nil
}

// savedQPS is the request rate over the last minute in an autoscaler's saved state (0 when there is none).
func savedQPS(state string, now time.Time) float64 {
	var st serve.AutoscalerState
	if state == "" || json.Unmarshal([]byte(state), &st) != nil {
		return 0
	}
	var w serve.RequestWindow
	w.Add(st.Requests)
	return w.QPS(now)
}

// UploadsInUse lists the uploaded trees that live services name (TaskSpec.Uploads of each version they keep):
// a replica is launched again from them whenever one is replaced or added, so the server's garbage collection
// keeps them while the service lives (server.GCOptions.UploadsInUse).
func (c *Controller) UploadsInUse(ctx context.Context) ([]string, error) {
	rows, err := c.st.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range rows {
		for _, ts := range r.Spec.Versions {
			for _, id := range ts.Uploads {
				out = append(out, id)
			}
		}
	}
	return out, nil
}
