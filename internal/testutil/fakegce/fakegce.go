// Package fakegce is a fake of Google Compute Engine's REST/JSON API at the wire level, for tests: resources under
// /compute/v1/projects/PROJECT/ (zones, instances insert/get/list/stop/start/delete, firewalls, zonal and global
// operations), errors as Compute Engine sends them ({"error": {"code", "message", "errors": [{"reason"}]}} for a
// refused request, an operation's "error" for capacity and quota), and an OAuth 2.0 token endpoint (/token) that
// checks a service account's signed JWT against the key it issued (ServiceAccountKey). stix reaches it through
// CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE and the key file's token_uri.
//
// Every instance it inserts is a real sshd host in a network namespace of its own (package sshhost) that accepts
// the keys of its ssh-keys metadata for the host's user, so that a provider provisions, connects and deploys on
// it as on Compute Engine. Tests script errors (Fail) and spot preemption (Preempt).
package fakegce

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/testutil/sshhost"
)

// Project is the project the fake serves unless the test sets Server.Project.
const Project = "stix-fake-project"

// Server is the fake Compute Engine and token endpoint. Its fields are set before the first request; methods are
// safe to call while it serves.
type Server struct {
	// URL is the server's root; Endpoint is the Compute API root to set CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE
	// to, TokenURL the token endpoint.
	URL, Endpoint, TokenURL string
	// Project is the only project the credentials may use; others get 403.
	Project string
	// Regions are the regions it serves, each with the zones Zones gives.
	Regions []string
	// Images are the images that exist (projects/P/global/images/NAME).
	Images []string
	// NewHost starts the sshd host behind an instance; sshhost.StartInNetnsWithHome by default.
	NewHost func(t testing.TB, home string) *sshhost.Host

	t       testing.TB
	mu      sync.Mutex
	faults  []fault
	calls   []string
	seq     int
	keys    map[string]*rsa.PublicKey // service account email -> public key
	tokens  map[string]bool           // access tokens issued and valid
	refresh map[string]bool           // refresh tokens of user credentials
	insts   map[string]*Instance      // zone/name
	order   []string
	fws     map[string]map[string]any
	ops     map[string]*op
	busy    time.Duration
}

// Instance is one instance the fake runs.
type Instance struct {
	Name, Zone, MachineType, Image, DiskType string
	DiskGB                                   string
	Status                                   string
	Labels                                   map[string]string
	Tags                                     []string
	Metadata                                 map[string]string
	Accelerators                             []string // TYPE:COUNT
	Spot                                     bool
	OnHostMaintenance                        string
	// Host is the sshd behind the instance while it runs.
	Host *sshhost.Host

	pendingReads int
	home         string
}

type fault struct{ verb, where, code, msg string }

type op struct {
	Name, Zone, Type, Target, Status string
	err                              *fault
}

// New starts the fake for regions (us-central1 when none), closed when the test ends.
func New(t testing.TB, regions ...string) *Server {
	if len(regions) == 0 {
		regions = []string{"us-central1"}
	}
	s := &Server{t: t, Project: Project, Regions: regions, NewHost: sshhost.StartInNetnsWithHome,
		Images: []string{DefaultImage}, keys: map[string]*rsa.PublicKey{}, tokens: map[string]bool{}, refresh: map[string]bool{},
		insts: map[string]*Instance{}, fws: map[string]map[string]any{}, ops: map[string]*op{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL, s.Endpoint, s.TokenURL = srv.URL, srv.URL+"/compute/v1/", srv.URL+"/token"
	return s
}

// DefaultImage is an image the fake has from the start.
const DefaultImage = "projects/stix-images/global/images/ubuntu-2204"

// Zones are a region's zones.
func Zones(region string) []string { return []string{region + "-a", region + "-b", region + "-c"} }

func regionOf(zone string) string {
	if i := strings.LastIndex(zone, "-"); i > 0 {
		return zone[:i]
	}
	return zone
}

// ServiceAccountKey writes a service-account key file (a new RSA key the token endpoint knows, token_uri the
// fake's) under dir and returns its path.
func (s *Server) ServiceAccountKey(t testing.TB, dir, email string) string {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.keys[email] = &key.PublicKey
	s.mu.Unlock()
	data, _ := json.MarshalIndent(map[string]string{"type": "service_account", "project_id": s.Project,
		"private_key_id": "fake-key-1", "private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": email, "client_id": "1", "token_uri": s.TokenURL}, "", "  ")
	path := filepath.Join(dir, "sa-"+strings.SplitN(email, "@", 2)[0]+".json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// UserCredentials writes gcloud's application_default_credentials.json for a user (authorized_user, with a
// refresh token the token endpoint knows; such files name no token endpoint) under dir and returns its path.
func (s *Server) UserCredentials(t testing.TB, dir string) string {
	s.mu.Lock()
	rt := "1//fake-refresh-" + s.id()
	s.refresh[rt] = true
	s.mu.Unlock()
	data, _ := json.MarshalIndent(map[string]string{"type": "authorized_user", "client_id": "fake.apps.googleusercontent.com",
		"client_secret": "fake-secret", "refresh_token": rt, "quota_project_id": s.Project}, "", "  ")
	path := filepath.Join(dir, "application_default_credentials.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Revoke makes the token endpoint refuse the service account and every token issued so far invalid: the key
// was deleted.
func (s *Server) Revoke(email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, email)
	s.tokens, s.refresh = map[string]bool{}, map[string]bool{}
}

// Fail makes every later call of verb (insert, stop, start, delete, firewall) in where (a zone or a region;
// anywhere when empty) fail with code as Compute Engine reports it: capacity and quota codes in upper case
// (ZONE_RESOURCE_POOL_EXHAUSTED, QUOTA_EXCEEDED) in the operation's error, others (notFound, forbidden, invalid)
// as an HTTP error answer.
func (s *Server) Fail(verb, where, code, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{verb, where, code, message})
}

func (s *Server) injected(verb, zone string) *fault {
	for i := range s.faults {
		f := &s.faults[i]
		if f.verb == verb && (f.where == "" || f.where == zone || f.where == regionOf(zone)) {
			return f
		}
	}
	return nil
}

// Calls returns "verb zone" for every instance call so far and "firewall insert|delete" for firewall calls.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Instances returns a copy of every instance, in insert order.
func (s *Server) Instances() []Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Instance
	for _, k := range s.order {
		if in := s.insts[k]; in != nil {
			out = append(out, *in)
		}
	}
	return out
}

// Firewalls returns a copy of every firewall rule, by name.
func (s *Server) Firewalls() map[string]map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[string]any{}
	for k, v := range s.fws {
		out[k] = v
	}
	return out
}

// Live counts what is left: instances (stopped ones too, their disks cost) and firewall rules.
func (s *Server) Live() (instances, firewalls int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.insts), len(s.fws)
}

// Preempt takes a spot instance back as Compute Engine does: its host stops and it shows TERMINATED.
func (s *Server) Preempt(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range s.insts {
		if in.Name == name {
			s.halt(in, "TERMINATED")
			return
		}
	}
	s.t.Fatalf("fakegce: no instance %s", name)
}

func (s *Server) halt(in *Instance, status string) {
	if in.Host != nil {
		in.Host.KillAll()
		in.Host = nil
	}
	in.Status = status
}

// Busy is the time the server has spent answering so far (booting instances' hosts included): what a benchmark
// subtracts to count the caller's own time.
func (s *Server) Busy() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.busy
}

// apiError is an HTTP error answer in Compute Engine's shape.
type apiError struct {
	status         int
	reason, msg    string
	statusAsString string
}

func (e *apiError) write(w http.ResponseWriter) {
	st := e.statusAsString
	if st == "" {
		st = map[int]string{400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 409: "ALREADY_EXISTS"}[e.status]
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": e.status, "message": e.msg, "status": st,
		"errors": []map[string]string{{"message": e.msg, "domain": "global", "reason": e.reason}}}})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() {
		s.mu.Lock()
		s.busy += time.Since(start)
		s.mu.Unlock()
	}()
	if r.URL.Path == "/token" {
		s.token(w, r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rest, ok := strings.CutPrefix(r.URL.Path, "/compute/v1/projects/")
	if !ok {
		(&apiError{status: 404, reason: "notFound", msg: "fakegce: no resource " + r.URL.Path}).write(w)
		return
	}
	project, rel, _ := strings.Cut(rest, "/")
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case !s.tokens[bearer]:
		(&apiError{status: 401, reason: "authError", msg: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential."}).write(w)
		return
	case project != s.Project:
		(&apiError{status: 403, reason: "forbidden", msg: "Required 'compute.instances.list' permission for 'projects/" + project + "'"}).write(w)
		return
	}
	out, e := s.route(r, strings.Split(rel, "/"))
	if e != nil {
		e.write(w)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Server) id() string {
	s.seq++
	return fmt.Sprintf("%019d", s.seq)
}
