// Package fakerunpod is a fake of RunPod's REST API (v1, https://rest.runpod.io/v1) at the wire level, for tests:
// pods created, listed, read and deleted as JSON, errors as `{"error": "...", "status": N}`, the API key as a
// Bearer token, reached by stix's real HTTP client through STIX_RUNPOD_ENDPOINT. Every pod it creates is a real
// sshd host in a network namespace of its own (package sshhost) that accepts the PUBLIC_KEY of the pod's env, as
// RunPod's images do; each of the pod's TCP ports ("22/tcp") is mapped to another port of a public address
// (127.0.0.1 here) by a forwarder, as RunPod's publicIp and portMappings are. Tests script errors per data
// center or country (Fail) and spot preemption (Preempt).
//
// Routes: POST /pods, GET /pods, GET /pods/{id}, DELETE /pods/{id}, POST /pods/{id}/stop.
package fakerunpod

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/testutil/sshhost"
)

// APIKey is the key the server accepts unless the test sets others (SetAPIKeys).
const APIKey = "rpa_FAKERUNPODKEY"

// NoCapacity is RunPod's answer when no machine fits a pod.
const NoCapacity = "There are no longer any instances available with the requested specifications. Please refresh and try again."

// Server is the fake RunPod endpoint. Methods are safe to call while it serves.
type Server struct {
	// URL is the endpoint (the API's /v1 base): set STIX_RUNPOD_ENDPOINT to it.
	URL string
	// NewHost starts the sshd host behind a pod; sshhost.StartInNetns by default.
	NewHost func(t testing.TB) *sshhost.Host

	t      testing.TB
	mu     sync.Mutex
	keys   []string
	faults []fault
	calls  []string
	seq    int
	pods   map[string]*Pod
	order  []string
	busy   time.Duration
}

type fault struct {
	op, where, msg string
	status         int
}

// Pod is one pod the fake runs.
type Pod struct {
	ID, Name, Image, DataCenter, CloudType, ComputeType string
	GPUTypeIDs, CPUFlavorIDs, Ports                     []string
	GPUCount, VCPUCount, ContainerDiskGB                int
	Interruptible                                       bool
	Env                                                 map[string]string
	// DesiredStatus is RUNNING, EXITED or TERMINATED.
	DesiredStatus string
	// Host is the sshd behind the pod while it runs.
	Host *sshhost.Host
	// Mapped maps the pod's ports to the public ports that reach them.
	Mapped map[int]int
	// startReads counts reads still to show it without its public address, as a pod starting.
	startReads int
	forwarders []net.Listener
}

// New starts the fake, closed when the test ends. It listens on the netns bridge (sshhost.NewServer), so that the
// agents on its pods reach it as nodes reach the cloud's API.
func New(t testing.TB) *Server {
	s := &Server{t: t, keys: []string{APIKey}, pods: map[string]*Pod{}, NewHost: sshhost.StartInNetns}
	srv := sshhost.NewServer(t, http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		srv.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, p := range s.pods {
			s.end(p, "TERMINATED")
		}
	})
	s.URL = srv.URL + "/v1"
	return s
}

// SetAPIKeys replaces the API keys the server accepts: a key revoked.
func (s *Server) SetAPIKeys(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

// Fail makes every later call of op ("create", "list", "delete") in where (a data center id, or the country
// a data center id starts with; anywhere when empty) fail with message and status.
func (s *Server) Fail(op, where string, status int, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{op: op, where: where, msg: message, status: status})
}

// Calls returns "op dataCenter" for every call so far.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Pods returns a copy of every pod, in creation order.
func (s *Server) Pods() []Pod {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Pod
	for _, id := range s.order {
		out = append(out, *s.pods[id])
	}
	return out
}

// Live counts the pods not terminated.
func (s *Server) Live() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range s.pods {
		if p.DesiredStatus != "TERMINATED" {
			n++
		}
	}
	return n
}

// Preempt takes an interruptible pod back, as RunPod does when a higher bid wins its GPU: its host stops and
// the pod is EXITED.
func (s *Server) Preempt(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pods[id]
	if p == nil {
		s.t.Fatalf("fakerunpod: no pod %s", id)
	}
	s.end(p, "EXITED")
}

// Busy is the time the server has spent on its requests' work so far (booting pods' hosts included), not
// counting requests' waits for one another: what a benchmark subtracts to count the caller's own time.
func (s *Server) Busy() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.busy
}

// end stops the pod's host and forwarders and puts it in status.
func (s *Server) end(p *Pod, status string) {
	if p.Host != nil {
		p.Host.KillAll()
		p.Host = nil
	}
	for _, l := range p.forwarders {
		_ = l.Close()
	}
	p.forwarders, p.Mapped = nil, nil
	p.DesiredStatus = status
}

type apiError struct {
	status int
	msg    string
}

// work takes the server's lock for one request's work and returns what releases it, adding the time held to
// Busy: requests answered at once queue on the lock, and their waits are not the server's work.
func (s *Server) work() func() {
	s.mu.Lock()
	start := time.Now()
	return func() {
		s.busy += time.Since(start)
		s.mu.Unlock()
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	key, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	ok := slices.Contains(s.keys, key)
	s.mu.Unlock()
	var data any
	var e *apiError
	if !ok {
		e = &apiError{http.StatusUnauthorized, "Unauthorized: invalid or missing API key"}
	} else {
		data, e = s.route(r)
	}
	w.Header().Set("Content-Type", "application/json")
	if e != nil {
		w.WriteHeader(e.status)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": e.msg, "status": e.status})
		return
	}
	_ = json.NewEncoder(w).Encode(data)
}

// injected returns the fault scripted for op in data center dc, if any; the caller holds mu.
func (s *Server) injected(op, dc string) *apiError {
	s.calls = append(s.calls, strings.TrimSpace(op+" "+dc))
	for _, f := range s.faults {
		if f.op == op && (f.where == "" || f.where == dc || strings.HasPrefix(dc, f.where+"-")) {
			return &apiError{f.status, f.msg}
		}
	}
	return nil
}

func (s *Server) route(r *http.Request) (any, *apiError) {
	path := strings.Trim(strings.TrimPrefix(r.URL.Path, "/v1"), "/")
	id, action, _ := strings.Cut(strings.TrimPrefix(path, "pods/"), "/")
	switch {
	case path == "pods" && r.Method == http.MethodPost:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, &apiError{http.StatusBadRequest, err.Error()}
		}
		return s.create(body)
	case path == "pods" && r.Method == http.MethodGet:
		defer s.work()()
		if e := s.injected("list", ""); e != nil {
			return nil, e
		}
		out := []map[string]any{}
		for _, pid := range s.order {
			p := s.pods[pid]
			if p.DesiredStatus == "TERMINATED" {
				continue
			}
			if n := r.URL.Query().Get("name"); n != "" && p.Name != n {
				continue
			}
			out = append(out, s.podJSON(p))
		}
		return out, nil
	case strings.HasPrefix(path, "pods/"):
		defer s.work()()
		p := s.pods[id]
		if p == nil || p.DesiredStatus == "TERMINATED" {
			return nil, &apiError{http.StatusNotFound, "pod not found"}
		}
		switch {
		case r.Method == http.MethodGet && action == "":
			return s.podJSON(p), nil
		case r.Method == http.MethodDelete && action == "":
			if e := s.injected("delete", p.DataCenter); e != nil {
				return nil, e
			}
			s.end(p, "TERMINATED")
			return map[string]any{}, nil
		case r.Method == http.MethodPost && action == "stop":
			s.end(p, "EXITED")
			return s.podJSON(p), nil
		}
	}
	return nil, &apiError{http.StatusNotFound, "no route " + r.Method + " " + r.URL.Path + " (fakerunpod)"}
}

// podJSON is the pod as RunPod's API shows it; a pod just created shows no public address once.
func (s *Server) podJSON(p *Pod) map[string]any {
	m := map[string]any{"id": p.ID, "name": p.Name, "image": p.Image, "desiredStatus": p.DesiredStatus,
		"interruptible": p.Interruptible, "gpuCount": p.GPUCount, "vcpuCount": p.VCPUCount, "ports": p.Ports,
		"containerDiskInGb": p.ContainerDiskGB, "env": p.Env, "costPerHr": 0.5,
		"machine": map[string]any{"dataCenterId": p.DataCenter}, "publicIp": nil, "portMappings": nil}
	if p.startReads > 0 {
		p.startReads--
		return m
	}
	if p.Host != nil {
		mapped := map[string]int{}
		for in, out := range p.Mapped {
			mapped[strconv.Itoa(in)] = out
		}
		m["publicIp"], m["portMappings"] = "127.0.0.1", mapped
	}
	return m
}

func (s *Server) create(body []byte) (any, *apiError) {
	var req struct {
		Name              string            `json:"name"`
		ImageName         string            `json:"imageName"`
		GPUTypeIDs        []string          `json:"gpuTypeIds"`
		GPUCount          int               `json:"gpuCount"`
		CPUFlavorIDs      []string          `json:"cpuFlavorIds"`
		VCPUCount         int               `json:"vcpuCount"`
		CloudType         string            `json:"cloudType"`
		ComputeType       string            `json:"computeType"`
		DataCenterIDs     []string          `json:"dataCenterIds"`
		Interruptible     bool              `json:"interruptible"`
		Ports             []string          `json:"ports"`
		Env               map[string]string `json:"env"`
		ContainerDiskInGb int               `json:"containerDiskInGb"`
		SupportPublicIP   bool              `json:"supportPublicIp"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, &apiError{http.StatusBadRequest, "invalid request body: " + err.Error()}
	}
	defer s.work()()
	dc := ""
	if len(req.DataCenterIDs) > 0 {
		dc = req.DataCenterIDs[0]
	}
	if e := s.injected("create", dc); e != nil {
		return nil, e
	}
	if req.ImageName == "" || req.Name == "" {
		return nil, &apiError{http.StatusBadRequest, "imageName and name are required"}
	}
	p := &Pod{ID: s.id(), Name: req.Name, Image: req.ImageName, DataCenter: dc, CloudType: req.CloudType,
		ComputeType: req.ComputeType, GPUTypeIDs: req.GPUTypeIDs, CPUFlavorIDs: req.CPUFlavorIDs, Ports: req.Ports,
		GPUCount: req.GPUCount, VCPUCount: req.VCPUCount, ContainerDiskGB: req.ContainerDiskInGb,
		Interruptible: req.Interruptible, Env: req.Env, DesiredStatus: "RUNNING", Mapped: map[int]int{}, startReads: 1}
	var tcp []int
	for _, port := range req.Ports {
		n, proto, _ := strings.Cut(port, "/")
		v, err := strconv.Atoi(n)
		if err != nil || v < 1 || v > 65535 || (proto != "tcp" && proto != "http") {
			return nil, &apiError{http.StatusBadRequest, fmt.Sprintf("invalid port %q: want PORT/tcp or PORT/http", port)}
		}
		if proto == "tcp" {
			tcp = append(tcp, v)
		}
	}
	p.Host = s.NewHost(s.t)
	if pub := req.Env["PUBLIC_KEY"]; pub != "" {
		if err := p.Host.Authorize(pub); err != nil {
			return nil, &apiError{http.StatusInternalServerError, err.Error()}
		}
	}
	for _, port := range tcp {
		l, err := forward(net.JoinHostPort(p.Host.Host, strconv.Itoa(port)))
		if err != nil {
			s.end(p, "TERMINATED")
			return nil, &apiError{http.StatusInternalServerError, err.Error()}
		}
		p.forwarders = append(p.forwarders, l)
		p.Mapped[port] = l.Addr().(*net.TCPAddr).Port
	}
	s.pods[p.ID] = p
	s.order = append(s.order, p.ID)
	return s.podJSON(p), nil
}

func (s *Server) id() string {
	s.seq++
	return fmt.Sprintf("fakepod%07d", s.seq)
}

// forward listens on a free port of 127.0.0.1 and copies every connection to and from target, until the
// listener is closed.
func forward(target string) (net.Listener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.DialTimeout("tcp", target, 10*time.Second)
				if err != nil {
					return
				}
				defer u.Close()
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
				go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
				<-done
			}()
		}
	}()
	return l, nil
}
