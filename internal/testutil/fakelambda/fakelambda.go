// Package fakelambda is a fake of Lambda Cloud's REST API (v1) at the wire level, for tests: JSON answers in
// `{"data": ...}`, errors as `{"error": {"code", "message", "suggestion"}}` with Lambda's codes, the API key as
// a Bearer token (or Basic auth's user name), reached by stix's real HTTP client through STIX_LAMBDA_ENDPOINT.
// Every instance it launches is a real sshd host in a network namespace of its own (package sshhost) that
// accepts the SSH key it was launched with, so that a provider provisions, connects and deploys on it as on
// Lambda. Tests script Lambda's errors per region (Fail) and what has capacity (SetCapacity).
//
// Routes: GET /api/v1/instance-types, GET /api/v1/instances, GET /api/v1/instances/{id},
// POST /api/v1/instance-operations/launch, POST /api/v1/instance-operations/terminate, GET and POST
// /api/v1/ssh-keys, DELETE /api/v1/ssh-keys/{id}.
package fakelambda

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/testutil/sshhost"
)

// APIKey is the key the server accepts unless the test sets others (SetAPIKeys).
const APIKey = "secret_fake-lambda-key"

// Type is an instance type the fake offers.
type Type struct {
	Name       string
	VCPUs      int
	MemoryGiB  int
	GPUs       int
	PriceCents int
	// Regions are where it has capacity now (regions_with_capacity_available).
	Regions []string
}

// Server is the fake Lambda Cloud endpoint. Methods are safe to call while it serves.
type Server struct {
	// URL is the endpoint: set STIX_LAMBDA_ENDPOINT to it.
	URL string
	// NewHost starts the sshd host behind an instance; sshhost.StartInNetns by default.
	NewHost func(t testing.TB) *sshhost.Host

	t      testing.TB
	mu     sync.Mutex
	keys   []string // accepted API keys
	types  map[string]*Type
	faults []fault
	calls  []string
	seq    int
	ssh    []sshKey
	insts  map[string]*Instance
	order  []string
	busy   time.Duration
}

type sshKey struct{ ID, Name, PublicKey string }

type fault struct {
	op, region, code, msg string
	status                int
}

// Instance is one instance the fake runs.
type Instance struct {
	ID, Name, Region, Type, KeyName string
	// Status is booting, active, terminating or terminated.
	Status string
	// Host is the sshd behind the instance while it runs.
	Host *sshhost.Host
}

// New starts the fake with the given instance types (capacity in every region they list), closed when the
// test ends. It listens on the netns bridge (sshhost.NewServer), so that the agents on its instances reach it as
// nodes reach the cloud's API.
func New(t testing.TB, types ...Type) *Server {
	s := &Server{t: t, keys: []string{APIKey}, types: map[string]*Type{}, insts: map[string]*Instance{},
		NewHost: sshhost.StartInNetns}
	for _, ty := range types {
		s.types[ty.Name] = &ty
	}
	srv := sshhost.NewServer(t, http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// SetAPIKeys replaces the API keys the server accepts: a key revoked.
func (s *Server) SetAPIKeys(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

// SetCapacity says in which regions the instance type has capacity now.
func (s *Server) SetCapacity(typeName string, regions ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.types[typeName].Regions = regions
}

// Fail makes every later call of op ("launch", "terminate", "instances", "instance-types", "ssh-keys") in region
// (anywhere when empty) fail with Lambda's error code, with the HTTP status Lambda answers it with.
func (s *Server) Fail(op, region, code, message string) {
	status := http.StatusBadRequest
	switch code {
	case "global/invalid-api-key":
		status = http.StatusUnauthorized
	case "global/account-inactive":
		status = http.StatusForbidden
	case "global/object-does-not-exist":
		status = http.StatusNotFound
	case "instance-operations/launch/insufficient-capacity":
		status = http.StatusServiceUnavailable
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{op: op, region: region, code: code, msg: message, status: status})
}

// AddSSHKey registers a key, as a user would have before stix ran.
func (s *Server) AddSSHKey(name, publicKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ssh = append(s.ssh, sshKey{ID: s.id(), Name: name, PublicKey: strings.TrimSpace(publicKey)})
}

// Calls returns "op region" for every call so far (region empty when the call has none).
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Instances returns a copy of every instance, in launch order.
func (s *Server) Instances() []Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Instance
	for _, id := range s.order {
		out = append(out, *s.insts[id])
	}
	return out
}

// Live counts what is left: instances not terminated, SSH keys.
func (s *Server) Live() (instances, keys int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range s.insts {
		if in.Status != "terminated" {
			instances++
		}
	}
	return instances, len(s.ssh)
}

// Busy is the time the server has spent answering so far (booting instances' hosts included): what a
// benchmark subtracts to count the caller's own time.
func (s *Server) Busy() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.busy
}

func (s *Server) id() string {
	s.seq++
	return fmt.Sprintf("%032x", s.seq)
}

// apiError is a Lambda error answer.
type apiError struct {
	status                int
	code, msg, suggestion string
}

func invalid(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "global/invalid-parameters", msg, ""}
}

// apiKey reads the key from `Authorization: Bearer KEY` or Basic auth's user name.
func apiKey(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	if k, ok := strings.CutPrefix(auth, "Bearer "); ok {
		return k
	}
	if b, ok := strings.CutPrefix(auth, "Basic "); ok {
		if dec, err := base64.StdEncoding.DecodeString(b); err == nil {
			user, _, _ := strings.Cut(string(dec), ":")
			return user
		}
	}
	return ""
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() {
		s.mu.Lock()
		s.busy += time.Since(start)
		s.mu.Unlock()
	}()
	s.mu.Lock()
	ok := slices.Contains(s.keys, apiKey(r))
	s.mu.Unlock()
	var data any
	var e *apiError
	if !ok {
		e = &apiError{http.StatusUnauthorized, "global/invalid-api-key", "API key was invalid, expired, or deleted.",
			"Check your API key or create a new one, then try again."}
	} else {
		data, e = s.route(r)
	}
	w.Header().Set("Content-Type", "application/json")
	if e != nil {
		w.WriteHeader(e.status)
		body := map[string]string{"code": e.code, "message": e.msg}
		if e.suggestion != "" {
			body["suggestion"] = e.suggestion
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"error": body})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"data": data})
}

// injected returns the fault scripted for op in region, if any; the caller holds mu.
func (s *Server) injected(op, region string) *apiError {
	s.calls = append(s.calls, strings.TrimSpace(op+" "+region))
	for _, f := range s.faults {
		if f.op == op && (f.region == "" || f.region == region) {
			return &apiError{f.status, f.code, f.msg, ""}
		}
	}
	return nil
}

func (s *Server) route(r *http.Request) (any, *apiError) {
	path := strings.TrimPrefix(r.URL.Path, "/api/v1/")
	switch {
	case r.Method == http.MethodGet && path == "instance-types":
		return s.instanceTypes()
	case r.Method == http.MethodGet && path == "instances":
		return s.listInstances("")
	case r.Method == http.MethodGet && strings.HasPrefix(path, "instances/"):
		return s.listInstances(strings.TrimPrefix(path, "instances/"))
	case r.Method == http.MethodPost && path == "instance-operations/launch":
		var req struct {
			Region      string   `json:"region_name"`
			Type        string   `json:"instance_type_name"`
			SSHKeyNames []string `json:"ssh_key_names"`
			Quantity    int      `json:"quantity"`
			Name        string   `json:"name"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			return nil, invalid("the body is not JSON: " + err.Error())
		}
		return s.launch(req.Region, req.Type, req.Name, req.SSHKeyNames, req.Quantity)
	case r.Method == http.MethodPost && path == "instance-operations/terminate":
		var req struct {
			IDs []string `json:"instance_ids"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			return nil, invalid("the body is not JSON: " + err.Error())
		}
		return s.terminate(req.IDs)
	case path == "ssh-keys" && r.Method == http.MethodGet:
		s.mu.Lock()
		defer s.mu.Unlock()
		if e := s.injected("ssh-keys", ""); e != nil {
			return nil, e
		}
		out := []map[string]string{}
		for _, k := range s.ssh {
			out = append(out, map[string]string{"id": k.ID, "name": k.Name, "public_key": k.PublicKey})
		}
		return out, nil
	case path == "ssh-keys" && r.Method == http.MethodPost:
		var req struct {
			Name      string `json:"name"`
			PublicKey string `json:"public_key"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			return nil, invalid("the body is not JSON: " + err.Error())
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if e := s.injected("ssh-keys", ""); e != nil {
			return nil, e
		}
		for _, k := range s.ssh {
			if k.Name == req.Name {
				return nil, invalid("An SSH key with name " + req.Name + " already exists.")
			}
		}
		k := sshKey{ID: s.id(), Name: req.Name, PublicKey: strings.TrimSpace(req.PublicKey)}
		s.ssh = append(s.ssh, k)
		return map[string]string{"id": k.ID, "name": k.Name, "public_key": k.PublicKey}, nil
	case strings.HasPrefix(path, "ssh-keys/") && r.Method == http.MethodDelete:
		id := strings.TrimPrefix(path, "ssh-keys/")
		s.mu.Lock()
		defer s.mu.Unlock()
		i := slices.IndexFunc(s.ssh, func(k sshKey) bool { return k.ID == id })
		if i < 0 {
			return nil, &apiError{http.StatusNotFound, "global/object-does-not-exist", "SSH key " + id + " does not exist", ""}
		}
		s.ssh = slices.Delete(s.ssh, i, i+1)
		return map[string]any{}, nil
	}
	return nil, &apiError{http.StatusNotFound, "global/object-does-not-exist", "no route " + r.Method + " " + r.URL.Path + " (fakelambda)", ""}
}

func typeJSON(ty *Type) map[string]any {
	return map[string]any{"name": ty.Name, "description": ty.Name, "price_cents_per_hour": ty.PriceCents,
		"specs": map[string]int{"vcpus": ty.VCPUs, "memory_gib": ty.MemoryGiB, "storage_gib": 512, "gpus": ty.GPUs}}
}

func regionJSON(name string) map[string]string {
	return map[string]string{"name": name, "description": name}
}

func (s *Server) instanceTypes() (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.injected("instance-types", ""); e != nil {
		return nil, e
	}
	out := map[string]any{}
	for name, ty := range s.types {
		regions := []map[string]string{}
		for _, r := range ty.Regions {
			regions = append(regions, regionJSON(r))
		}
		out[name] = map[string]any{"instance_type": typeJSON(ty), "regions_with_capacity_available": regions}
	}
	return out, nil
}

func (s *Server) instanceJSON(in *Instance) map[string]any {
	m := map[string]any{"id": in.ID, "name": in.Name, "status": in.Status, "ssh_key_names": []string{in.KeyName},
		"file_system_names": []string{}, "region": regionJSON(in.Region), "instance_type": typeJSON(s.types[in.Type]),
		"hostname": strings.ReplaceAll(in.ID[24:], "0", "a") + ".cloud.lambdalabs.com", "is_reserved": false}
	if in.Host != nil {
		m["ip"], m["private_ip"] = in.Host.Host, in.Host.Host
	}
	return m
}

// listInstances lists the instances not terminated (a booting one shows booting once), or the one named.
func (s *Server) listInstances(id string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.injected("instances", ""); e != nil {
		return nil, e
	}
	var out []map[string]any
	for _, iid := range s.order {
		in := s.insts[iid]
		if (id != "" && iid != id) || (id == "" && in.Status == "terminated") {
			continue
		}
		out = append(out, s.instanceJSON(in))
		switch { // a transitional status is shown once
		case in.Status == "booting":
			in.Status = "active"
		case in.Status == "terminating":
			in.Status = "terminated"
		}
	}
	if id != "" {
		if len(out) == 0 {
			return nil, &apiError{http.StatusNotFound, "global/object-does-not-exist", "Specified instance does not exist.", ""}
		}
		return out[0], nil
	}
	if out == nil {
		out = []map[string]any{}
	}
	return out, nil
}

func (s *Server) launch(region, typeName, name string, keyNames []string, quantity int) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.injected("launch", region); e != nil {
		return nil, e
	}
	ty := s.types[typeName]
	if ty == nil {
		return nil, invalid("Invalid instance type name " + typeName)
	}
	if len(keyNames) != 1 {
		return nil, invalid("Exactly one SSH key must be specified.")
	}
	i := slices.IndexFunc(s.ssh, func(k sshKey) bool { return k.Name == keyNames[0] })
	if i < 0 {
		return nil, invalid("Invalid SSH key name " + keyNames[0])
	}
	if !slices.Contains(ty.Regions, region) {
		return nil, &apiError{http.StatusServiceUnavailable, "instance-operations/launch/insufficient-capacity",
			"Not enough capacity to fulfill launch request.", "Choose an instance type with more availability, or try again later."}
	}
	if quantity <= 0 {
		quantity = 1
	}
	ids := []string{}
	for range quantity {
		in := &Instance{ID: s.id(), Name: name, Region: region, Type: typeName, KeyName: keyNames[0], Status: "booting"}
		in.Host = s.NewHost(s.t)
		if err := in.Host.Authorize(s.ssh[i].PublicKey); err != nil {
			return nil, &apiError{http.StatusInternalServerError, "global/unknown", err.Error(), ""}
		}
		s.insts[in.ID] = in
		s.order = append(s.order, in.ID)
		ids = append(ids, in.ID)
	}
	return map[string]any{"instance_ids": ids}, nil
}

func (s *Server) terminate(ids []string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.injected("terminate", ""); e != nil {
		return nil, e
	}
	for _, id := range ids {
		if in := s.insts[id]; in == nil || in.Status == "terminated" {
			return nil, &apiError{http.StatusNotFound, "global/object-does-not-exist", "Specified instance does not exist.", ""}
		}
	}
	out := []map[string]any{}
	for _, id := range ids {
		in := s.insts[id]
		if in.Host != nil {
			in.Host.KillAll()
			in.Host = nil
		}
		in.Status = "terminating"
		out = append(out, s.instanceJSON(in))
	}
	return map[string]any{"terminated_instances": out}, nil
}
