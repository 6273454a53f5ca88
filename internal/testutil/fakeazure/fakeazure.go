// Package fakeazure is a fake of Azure Resource Manager and the Microsoft Entra token endpoint at the wire level,
// for tests, shaped after Azure's documented REST requests and responses: resource groups
// (/subscriptions/S/resourcegroups/G: PUT, GET, DELETE, list), Microsoft.Network virtualNetworks,
// networkSecurityGroups, publicIPAddresses and networkInterfaces, Microsoft.Compute virtualMachines (PUT, GET,
// DELETE, instanceView, deallocate, start), each with an api-version; long-running operations answered as ARM
// does (201 or 202 with Azure-AsyncOperation and Location headers, polled to Succeeded or Failed); errors as ARM
// sends them ({"error": {"code", "message"}}); and the client-credentials flow of /TENANT/oauth2/v2.0/token.
// It serves TLS (the SDK sends bearer tokens over https only): CAFile is its certificate, for SSL_CERT_FILE.
//
// It also fakes Microsoft.ManagedIdentity userAssignedIdentities, Microsoft.Authorization roleAssignments, VMs'
// identities and the instance metadata service's token endpoint (IMDS), on the bridge of the netns hosts so
// that the VMs reach it: a token is issued only to a VM that has the identity attached, and Resource Manager
// accepts an identity's token only within the scopes of its role assignments (identity.go).
//
// Every VM it creates is a real sshd host in a network namespace of its own (package sshhost) that accepts the
// key of the VM's osProfile, and its network interface and public IP carry the host's address. Tests script
// errors (Fail) and Spot eviction (Evict), and check that nothing is left (Live).
package fakeazure

import (
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stix-run/stix/internal/testutil/sshhost"
)

// Identity the fake accepts unless the test changes it.
const (
	Subscription = "00000000-0000-0000-0000-00000000f00d"
	Tenant       = "11111111-1111-1111-1111-111111111111"
	ClientID     = "22222222-2222-2222-2222-222222222222"
	Secret       = "fake-client-secret"
)

// Server is the fake ARM and token endpoint. Its fields are set before the first request; methods are safe to
// call while it serves.
type Server struct {
	// URL is the root of both: STIX_AZURE_ENDPOINT and STIX_AZURE_AUTHORITY. CAFile holds its TLS certificate.
	// IMDS is the instance metadata service's token endpoint: STIX_AZURE_IMDS_ENDPOINT.
	URL, CAFile, IMDS string
	// Sizes are the VM sizes each region offers; another size is SkuNotAvailable there.
	Sizes map[string][]string
	// Images are the images that exist (URNs, PUBLISHER:OFFER:SKU:VERSION; "latest" matches any version).
	Images []string
	// NewHost starts the sshd host behind a VM; sshhost.StartInNetnsWithHome by default.
	NewHost func(t testing.TB, home string) *sshhost.Host

	t      testing.TB
	mu     sync.Mutex
	secret string
	tokens map[string]string // access token -> principal: "" for the service principal, else an identity's
	seq    int
	faults []fault
	calls  []string
	// refused are the calls with an identity's token outside its role assignments' scopes.
	refused []string
	groups  map[string]map[string]any  // lower-case name -> resource
	res     map[string]*resource       // lower-case id -> resource
	roles   map[string]*roleAssignment // lower-case id -> role assignment
	ops     map[string]*op
	bg      sync.WaitGroup // operations finishing in the background
}

// VM is one virtual machine the fake runs.
type VM struct {
	Name, Group, Region, Zone, Size, Image, DiskType, Priority, EvictionPolicy, User string
	DiskGB                                                                           int
	Tags                                                                             map[string]string
	Power                                                                            string // running, deallocated
	// Host is the sshd behind the VM while it runs.
	Host *sshhost.Host
	home string
	key  string
	nic  string // id of its network interface
	// identities are the lower-case ids of the user-assigned identities attached to it.
	identities []string
}

type resource struct {
	id, typ, group string
	body           map[string]any
	vm             *VM
}

type fault struct{ verb, where, code, msg string }

type op struct {
	err  *fault
	done func()
}

// New starts the fake, closed when the test ends. It offers Standard_D8s_v5 and Standard_NC24ads_A100_v4 in
// eastus and westus2 and has Canonical's Ubuntu 22.04 image until the test changes Sizes and Images. It listens
// on the bridge of the netns hosts (sshhost.BridgeIP), with a certificate of its own for that address.
func New(t testing.TB) *Server {
	sizes := []string{"Standard_D8s_v5", "Standard_NC24ads_A100_v4"}
	s := &Server{t: t, secret: Secret, NewHost: sshhost.StartInNetnsWithHome,
		Sizes:  map[string][]string{"eastus": sizes, "westus2": sizes},
		Images: []string{"Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest", "microsoft-dsvm:ubuntu-hpc:2204:latest"},
		tokens: map[string]string{}, groups: map[string]map[string]any{}, res: map[string]*resource{},
		roles: map[string]*roleAssignment{}, ops: map[string]*op{}}
	ip := sshhost.BridgeIP(t)
	cert, der := certificate(t, ip)
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("fakeazure: listen on the bridge: %v", err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	srv.Listener.Close()
	srv.Listener = ln
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	imds := sshhost.NewServer(t, http.HandlerFunc(s.imds))
	t.Cleanup(imds.Close)
	s.IMDS = imds.URL + "/metadata/identity/oauth2/token"
	s.CAFile = filepath.Join(t.TempDir(), "fakeazure-ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(s.CAFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.bg.Wait()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, r := range s.res {
			if r.vm != nil && r.vm.Host != nil {
				r.vm.Host.KillAll()
			}
		}
	})
	return s
}

// Env is the environment that points stix at the fake with its service principal.
func (s *Server) Env() []string {
	return []string{"STIX_AZURE_ENDPOINT=" + s.URL, "STIX_AZURE_AUTHORITY=" + s.URL, "SSL_CERT_FILE=" + s.CAFile,
		"STIX_AZURE_IMDS_ENDPOINT=" + s.IMDS,
		"AZURE_SUBSCRIPTION_ID=" + Subscription, "AZURE_TENANT_ID=" + Tenant, "AZURE_CLIENT_ID=" + ClientID,
		"AZURE_CLIENT_SECRET=" + Secret}
}

// IssueToken returns a valid access token, as the Azure CLI would have from its login.
func (s *Server) IssueToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := "fake-cli-token-" + s.id()
	s.tokens[tok] = ""
	return tok
}

// RotateSecret makes the service principal's secret another one, and the tokens issued so far invalid: the
// credentials stix has are rejected from then on.
func (s *Server) RotateSecret() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secret, s.tokens = "rotated-"+Secret, map[string]string{}
}

// Fail makes the next requests of verb fail with the ARM error code and message: verb "vm" (create a VM), "group"
// (create a resource group), "list" (list resource groups), "identity" (create a managed identity) or "role"
// (create a role assignment); where a region, "REGION/ZONE", or "" for all.
// Allocation failures (AllocationFailed, ZonalAllocationFailed, OverconstrainedAllocationRequest) fail the VM's
// long-running operation, as Azure does, after the VM resource was made; the others refuse the request.
func (s *Server) Fail(verb, where, code, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{verb, where, code, message})
}

func (s *Server) injected(verb, region, zone string) *fault {
	for i := range s.faults {
		f := &s.faults[i]
		if f.verb == verb && (f.where == "" || f.where == region || f.where == region+"/"+zone) {
			return f
		}
	}
	return nil
}

// Calls lists the VM creations asked for, as "vm REGION/ZONE", in order.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// VMs are the VMs that exist, sorted by name.
func (s *Server) VMs() []VM {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []VM
	for _, r := range s.res {
		if r.vm != nil {
			out = append(out, *r.vm)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Live lists what exists: resource groups ("group NAME") and resources ("TYPE NAME"), sorted.
func (s *Server) Live() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for g := range s.groups {
		out = append(out, "group "+g)
	}
	for _, r := range s.res {
		out = append(out, r.typ+" "+r.body["name"].(string))
	}
	for _, ra := range s.roles {
		out = append(out, "Microsoft.Authorization/roleAssignments "+ra.name)
	}
	sort.Strings(out)
	return out
}

// Evict takes back a Spot VM as Azure does with EvictionPolicy Delete: the VM and its disk are deleted.
func (s *Server) Evict(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, r := range s.res {
		if r.vm != nil && r.vm.Name == name {
			s.halt(r.vm)
			delete(s.res, id)
			return
		}
	}
	s.t.Fatalf("fakeazure: no VM %s", name)
}

func (s *Server) halt(v *VM) {
	if v.Host != nil {
		v.Host.KillAll()
		v.Host = nil
	}
}

// armError writes ARM's error body.
func armError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("x-ms-error-code", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) id() string {
	s.seq++
	return fmt.Sprintf("%08d-0000-4000-8000-%012d", s.seq, s.seq)
}

// token is the client-credentials flow of the Microsoft identity platform's v2.0 token endpoint.
func (s *Server) token(w http.ResponseWriter, r *http.Request, tenant string) {
	_ = r.ParseForm()
	fail := func(status int, code, desc string) {
		writeJSON(w, status, map[string]any{"error": code, "error_description": desc, "error_codes": []int{7000215}})
	}
	switch {
	case r.Method != http.MethodPost || r.Form.Get("grant_type") != "client_credentials":
		fail(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.")
	case tenant != Tenant:
		fail(400, "invalid_request", "AADSTS90002: Tenant '"+tenant+"' not found.")
	case r.Form.Get("client_id") != ClientID || r.Form.Get("client_secret") != s.secret:
		fail(401, "invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the "+
			"request is the client secret value, not the client secret ID, for a secret added to app '"+r.Form.Get("client_id")+"'.")
	case !strings.HasSuffix(r.Form.Get("scope"), "/.default"):
		fail(400, "invalid_scope", "AADSTS70011: The provided request must include a 'scope' input parameter.")
	default:
		tok := "fake-arm-token-" + s.id()
		s.tokens[tok] = ""
		writeJSON(w, 200, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok})
	}
}
