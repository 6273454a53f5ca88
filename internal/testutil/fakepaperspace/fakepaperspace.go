// Package fakepaperspace is a fake of Paperspace's public REST API (v1, https://api.paperspace.com/v1, the calls
// SkyPilot makes) at the wire level, for tests: JSON answers, lists as `{"items", "hasMore", "nextPage"}` pages
// (PageSize items, the next asked for with `after`), errors as `{"code", "message"}` with the HTTP status, the
// API key as a Bearer token, reached by stix's real HTTP client through STIX_PAPERSPACE_ENDPOINT. Every machine
// is a real sshd host in a network namespace of its own (package sshhost) that accepts the SSH keys its startup
// script installs, so that a provider provisions, connects and deploys on it as on Paperspace. Stopping a machine
// kills its host and keeps its home directory (its disk); starting it boots a new host on that disk. Tests script
// Paperspace's errors per call and region (Fail) and which machine types each region offers (Type).
//
// Routes: GET and POST /machines, GET and DELETE /machines/{id}, PATCH /machines/{id}/stop and
// /machines/{id}/start; GET and POST /private-networks, DELETE /private-networks/{id}; GET and POST
// /startup-scripts, PUT and DELETE /startup-scripts/{id}.
package fakepaperspace

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/testutil/sshhost"
)

// APIKey is the key the server accepts unless the test sets others (SetAPIKeys).
const APIKey = "fake-paperspace-api-key"

// Paperspace's error messages the tests script (Fail).
const (
	// NoCapacity is Paperspace's answer when the region has no machine of the type free.
	NoCapacity = "We are currently out of capacity for the selected machine type. Try again in a few minutes, or select a different machine type."
	// QuotaZero is its answer when the account may not make (more) machines of the type.
	QuotaZero = "You have reached your limit of 0 machines of this type. Request a limit increase in the console."
)

// Templates are the template ids the fake knows: those stix makes machines from by default.
var Templates = []string{"t7vp562h", "tilqt47t", "tvimtol9", "tqqsxr6b", "twnlo3zj", "t0nspur5"}

// Type is a machine type the fake offers, in Regions.
type Type struct {
	Name    string
	Regions []string
}

// Machine is one machine the fake runs.
type Machine struct {
	ID, Name, Type, Region, NetworkID, TemplateID, ScriptID string
	DiskSize                                                int
	Nvlink                                                  bool
	// State is provisioning, ready, stopping, off, starting; a deleted machine is no longer kept.
	State string
	// Keys are the SSH keys its startup script installed on its first boot.
	Keys []string
	// Host is the sshd behind the machine while it runs; Home its disk.
	Host *sshhost.Host
	Home string
}

type network struct{ ID, Name, Region string }

type script struct {
	ID, Name, Script string
	RunOnce          bool
}

type fault struct {
	op, region, code, msg string
	status                int
	skip                  int // matching calls let through first
}

// Server is the fake Paperspace endpoint. Methods are safe to call while it serves.
type Server struct {
	// URL is the endpoint: set STIX_PAPERSPACE_ENDPOINT to it.
	URL string
	// PageSize is how many items a list answers per page; 2 by default, so that clients follow pages.
	PageSize int
	// NewHost starts the sshd host behind a machine on home (its disk; a new one when empty);
	// sshhost.StartInNetnsWithHome by default.
	NewHost func(t testing.TB, home string) *sshhost.Host

	t        testing.TB
	mu       sync.Mutex
	keys     []string
	types    map[string][]string
	faults   []fault
	calls    []string
	seq      int
	machines []*Machine
	networks []network
	scripts  []script
	busy     time.Duration
}

// New starts the fake offering the given machine types, closed when the test ends. It listens on the netns
// bridge (sshhost.NewServer), so that the agents on its machines reach it as machines reach Paperspace's API.
func New(t testing.TB, types ...Type) *Server {
	s := &Server{t: t, keys: []string{APIKey}, types: map[string][]string{}, PageSize: 2, NewHost: sshhost.StartInNetnsWithHome}
	for _, ty := range types {
		s.types[ty.Name] = ty.Regions
	}
	srv := sshhost.NewServer(t, http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, m := range s.machines {
			if m.Host != nil {
				m.Host.KillAll()
			}
		}
	})
	s.URL = srv.URL
	return s
}

// SetAPIKeys replaces the API keys the server accepts: a key revoked.
func (s *Server) SetAPIKeys(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

// Fail makes every later call of op ("create", "list", "stop", "start", "delete", "network", "script") in region
// (anywhere when empty) fail with the HTTP status, Paperspace's code and message.
func (s *Server) Fail(op, region string, status int, code, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{op: op, region: region, code: code, msg: message, status: status})
}

// FailAfter is Fail for the calls after the first n of op in region, which succeed: a cluster's third machine
// finding no capacity.
func (s *Server) FailAfter(n int, op, region string, status int, code, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{op: op, region: region, code: code, msg: message, status: status, skip: n})
}

// Heal drops the scripted errors.
func (s *Server) Heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Calls returns "op region" for every call so far (region empty when the call has none).
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Machines returns a copy of every machine not deleted, in creation order.
func (s *Server) Machines() []Machine {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Machine
	for _, m := range s.machines {
		out = append(out, *m)
	}
	return out
}

// Live counts what is left: machines, private networks, startup scripts.
func (s *Server) Live() (machines, networks, scripts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.machines), len(s.networks), len(s.scripts)
}

// Busy is the time the server has spent answering so far (booting machines' hosts included).
func (s *Server) Busy() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.busy
}

func (s *Server) id(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s%07d", prefix, s.seq)
}

// apiError is a Paperspace error answer.
type apiError struct {
	status    int
	code, msg string
}

func badRequest(msg string) *apiError { return &apiError{http.StatusBadRequest, "BAD_REQUEST", msg} }

func notFound(what string) *apiError {
	return &apiError{http.StatusNotFound, "NOT_FOUND", what + " not found"}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() {
		s.mu.Lock()
		s.busy += time.Since(start)
		s.mu.Unlock()
	}()
	s.mu.Lock()
	key, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	ok := slices.Contains(s.keys, key)
	s.mu.Unlock()
	var data any
	var e *apiError
	if !ok {
		e = &apiError{http.StatusUnauthorized, "UNAUTHORIZED", "Invalid API key"}
	} else {
		data, e = s.route(r)
	}
	w.Header().Set("Content-Type", "application/json")
	if e != nil {
		w.WriteHeader(e.status)
		_ = json.NewEncoder(w).Encode(map[string]any{"code": e.code, "message": e.msg, "status": e.status})
		return
	}
	_ = json.NewEncoder(w).Encode(data)
}

// injected returns the fault scripted for op in region, if any; the caller holds mu.
func (s *Server) injected(op, region string) *apiError {
	s.calls = append(s.calls, strings.TrimSpace(op+" "+region))
	for i := range s.faults {
		f := &s.faults[i]
		if f.op != op || (f.region != "" && f.region != region) {
			continue
		}
		if f.skip > 0 {
			f.skip--
			continue
		}
		return &apiError{f.status, f.code, f.msg}
	}
	return nil
}

func decode(r *http.Request, v any) *apiError {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return badRequest("the body is not JSON: " + err.Error())
	}
	return nil
}

func (s *Server) route(r *http.Request) (any, *apiError) {
	path := strings.Trim(r.URL.Path, "/")
	parts := strings.Split(path, "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case path == "machines" && r.Method == http.MethodGet:
		if e := s.injected("list", ""); e != nil {
			return nil, e
		}
		return page(s, r, s.machines, func(m *Machine) string { return m.ID }, s.machineJSON), nil
	case path == "machines" && r.Method == http.MethodPost:
		var req struct {
			Name, MachineType, Region, TemplateID, NetworkID, PublicIPType, StartupScriptID string
			DiskSize                                                                        int
			EnableNvlink, StartOnCreate                                                     bool
		}
		if e := decode(r, &req); e != nil {
			return nil, e
		}
		if e := s.injected("create", req.Region); e != nil {
			return nil, e
		}
		m := &Machine{Name: req.Name, Type: req.MachineType, Region: req.Region, NetworkID: req.NetworkID,
			TemplateID: req.TemplateID, ScriptID: req.StartupScriptID, DiskSize: req.DiskSize, Nvlink: req.EnableNvlink}
		if e := s.create(m); e != nil {
			return nil, e
		}
		return map[string]any{"event": map[string]string{"name": "create", "state": "done"}, "data": s.machineJSON(m)}, nil
	case len(parts) >= 2 && parts[0] == "machines":
		i := slices.IndexFunc(s.machines, func(m *Machine) bool { return m.ID == parts[1] })
		if i < 0 {
			return nil, notFound("Machine " + parts[1])
		}
		m := s.machines[i]
		switch {
		case len(parts) == 2 && r.Method == http.MethodGet:
			return s.machineJSON(m), nil
		case len(parts) == 2 && r.Method == http.MethodDelete:
			if e := s.injected("delete", m.Region); e != nil {
				return nil, e
			}
			if m.Host != nil {
				m.Host.KillAll()
				m.Host = nil
			}
			s.machines = slices.Delete(s.machines, i, i+1)
			return map[string]any{"event": map[string]string{"name": "delete", "state": "done"}, "data": s.machineJSON(m)}, nil
		case len(parts) == 3 && r.Method == http.MethodPatch && (parts[2] == "stop" || parts[2] == "start"):
			if e := s.injected(parts[2], m.Region); e != nil {
				return nil, e
			}
			if e := s.power(m, parts[2] == "start"); e != nil {
				return nil, e
			}
			return map[string]any{"event": map[string]string{"name": parts[2], "state": "done"}, "data": s.machineJSON(m)}, nil
		}
	case path == "private-networks" && r.Method == http.MethodGet:
		if e := s.injected("network", ""); e != nil {
			return nil, e
		}
		name := r.URL.Query().Get("name")
		var nws []network
		for _, n := range s.networks {
			if name == "" || n.Name == name {
				nws = append(nws, n)
			}
		}
		return page(s, r, nws, func(n network) string { return n.ID }, networkJSON), nil
	case path == "private-networks" && r.Method == http.MethodPost:
		var req struct{ Name, Region string }
		if e := decode(r, &req); e != nil {
			return nil, e
		}
		if e := s.injected("network", req.Region); e != nil {
			return nil, e
		}
		if req.Name == "" || req.Region == "" {
			return nil, badRequest("name and region are required")
		}
		n := network{ID: s.id("n"), Name: req.Name, Region: req.Region}
		s.networks = append(s.networks, n)
		return networkJSON(n), nil
	case len(parts) == 2 && parts[0] == "private-networks" && r.Method == http.MethodDelete:
		i := slices.IndexFunc(s.networks, func(n network) bool { return n.ID == parts[1] })
		if i < 0 {
			return nil, notFound("Private network " + parts[1])
		}
		if slices.ContainsFunc(s.machines, func(m *Machine) bool { return m.NetworkID == parts[1] }) {
			return nil, badRequest("Private network " + parts[1] + " has machines attached")
		}
		n := s.networks[i]
		s.networks = slices.Delete(s.networks, i, i+1)
		return networkJSON(n), nil
	case path == "startup-scripts" && r.Method == http.MethodGet:
		if e := s.injected("script", ""); e != nil {
			return nil, e
		}
		name := r.URL.Query().Get("name")
		var scs []script
		for _, sc := range s.scripts {
			if name == "" || sc.Name == name {
				scs = append(scs, sc)
			}
		}
		return page(s, r, scs, func(sc script) string { return sc.ID }, scriptJSON), nil
	case path == "startup-scripts" && r.Method == http.MethodPost:
		var req struct {
			Name, Script string
			IsRunOnce    bool
		}
		if e := decode(r, &req); e != nil {
			return nil, e
		}
		if e := s.injected("script", ""); e != nil {
			return nil, e
		}
		sc := script{ID: s.id("s"), Name: req.Name, Script: req.Script, RunOnce: req.IsRunOnce}
		s.scripts = append(s.scripts, sc)
		return scriptJSON(sc), nil
	case len(parts) == 2 && parts[0] == "startup-scripts" && (r.Method == http.MethodPut || r.Method == http.MethodDelete):
		i := slices.IndexFunc(s.scripts, func(sc script) bool { return sc.ID == parts[1] })
		if i < 0 {
			return nil, notFound("Startup script " + parts[1])
		}
		if r.Method == http.MethodDelete {
			sc := s.scripts[i]
			s.scripts = slices.Delete(s.scripts, i, i+1)
			return scriptJSON(sc), nil
		}
		var req struct {
			Name, Script string
			IsRunOnce    bool
		}
		if e := decode(r, &req); e != nil {
			return nil, e
		}
		s.scripts[i].Name, s.scripts[i].Script, s.scripts[i].RunOnce = req.Name, req.Script, req.IsRunOnce
		return scriptJSON(s.scripts[i]), nil
	}
	return nil, notFound("Route " + r.Method + " " + r.URL.Path + " (fakepaperspace)")
}

// page answers one page of items, after the item whose id is the query's `after`; the caller holds mu.
func page[T any](s *Server, r *http.Request, items []T, id func(T) string, render func(T) map[string]any) map[string]any {
	if after := r.URL.Query().Get("after"); after != "" {
		if i := slices.IndexFunc(items, func(it T) bool { return id(it) == after }); i >= 0 {
			items = items[i+1:]
		}
	}
	size := s.PageSize
	if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l > 0 {
		size = l
	}
	out := []map[string]any{}
	more := len(items) > size
	if more {
		items = items[:size]
	}
	for _, it := range items {
		out = append(out, render(it))
	}
	res := map[string]any{"items": out, "hasMore": more}
	if more {
		res["nextPage"] = id(items[len(items)-1])
	}
	return res
}

func networkJSON(n network) map[string]any {
	return map[string]any{"id": n.ID, "name": n.Name, "region": n.Region, "network": "10.0.0.0", "netmask": "255.255.255.0"}
}

func scriptJSON(sc script) map[string]any {
	return map[string]any{"id": sc.ID, "name": sc.Name, "script": sc.Script, "isRunOnce": sc.RunOnce, "isEnabled": true}
}

// machineJSON renders a machine; a transitional state (provisioning, stopping, starting) is shown once, then
// the machine is ready or off. The caller holds mu.
func (s *Server) machineJSON(m *Machine) map[string]any {
	out := map[string]any{"id": m.ID, "name": m.Name, "state": m.State, "machineType": m.Type, "region": m.Region,
		"networkId": m.NetworkID, "templateId": m.TemplateID, "diskSize": m.DiskSize, "publicIpType": "dynamic",
		"publicIp": nil, "privateIp": nil}
	if m.Host != nil && m.State == "ready" {
		out["publicIp"], out["privateIp"] = m.Host.Host, m.Host.Host
	}
	switch m.State {
	case "provisioning", "starting":
		m.State = "ready"
	case "stopping":
		m.State = "off"
	}
	return out
}

var keyRE = regexp.MustCompile(`(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256) [A-Za-z0-9+/=]+`)

// create checks a machine's request as Paperspace does and boots it: its startup script's keys are installed.
func (s *Server) create(m *Machine) *apiError {
	regions, ok := s.types[m.Type]
	switch {
	case m.Name == "" || m.Region == "" || m.DiskSize == 0:
		return badRequest("name, region and diskSize are required")
	case !ok:
		return badRequest("Invalid machine type " + m.Type)
	case !slices.Contains(regions, m.Region):
		return badRequest("Machine type " + m.Type + " is not available in region " + m.Region)
	case !slices.Contains(Templates, m.TemplateID):
		return notFound("Template " + m.TemplateID)
	}
	if m.NetworkID != "" {
		i := slices.IndexFunc(s.networks, func(n network) bool { return n.ID == m.NetworkID })
		if i < 0 {
			return notFound("Private network " + m.NetworkID)
		}
		if s.networks[i].Region != m.Region {
			return badRequest("Private network " + m.NetworkID + " is in region " + s.networks[i].Region)
		}
	}
	if m.ScriptID != "" {
		i := slices.IndexFunc(s.scripts, func(sc script) bool { return sc.ID == m.ScriptID })
		if i < 0 {
			return notFound("Startup script " + m.ScriptID)
		}
		for _, k := range keyRE.FindAllString(s.scripts[i].Script, -1) {
			if !slices.Contains(m.Keys, k) {
				m.Keys = append(m.Keys, k)
			}
		}
	}
	m.ID, m.State = s.id("ps"), "provisioning"
	if e := s.boot(m); e != nil {
		return e
	}
	s.machines = append(s.machines, m)
	return nil
}

// boot starts the machine's host on its disk with its keys.
func (s *Server) boot(m *Machine) *apiError {
	m.Host = s.NewHost(s.t, m.Home)
	m.Home = m.Host.Home
	for _, k := range m.Keys {
		if err := m.Host.Authorize(k); err != nil {
			return &apiError{http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", err.Error()}
		}
	}
	return nil
}

// power stops or starts a machine.
func (s *Server) power(m *Machine, on bool) *apiError {
	switch {
	case on && m.State == "off":
		m.State = "starting"
		return s.boot(m)
	case on:
		return badRequest("This machine is currently " + m.State + ".")
	case m.State == "off" || m.State == "stopping":
		return badRequest("This machine is already " + m.State + ".")
	}
	if m.Host != nil {
		m.Host.KillAll()
		m.Host = nil
	}
	m.State = "stopping"
	return nil
}
