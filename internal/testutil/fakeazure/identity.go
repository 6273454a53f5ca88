package fakeazure

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// roleAssignment is a Microsoft.Authorization/roleAssignments at a scope.
type roleAssignment struct {
	id, name, scope, principal, role string
}

// certificate is a self-signed certificate for the fake's address on the bridge (and 127.0.0.1): the leaf and
// its DER, which tests trust through SSL_CERT_FILE and the head through the requests' RootCAs.
func certificate(t testing.TB, ip string) (tls.Certificate, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "fakeazure"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP(ip), net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, der
}

// within says whether path is scope or under it, as Resource Manager scopes role assignments.
func within(path, scope string) bool {
	p, sc := strings.ToLower(strings.TrimSuffix(path, "/")), strings.ToLower(strings.TrimSuffix(scope, "/"))
	return p == sc || strings.HasPrefix(p, sc+"/")
}

// authorized says whether an identity's token may act on path: some role assignment of the principal's scope
// holds it.
func (s *Server) authorized(principal, path string) bool {
	for _, ra := range s.roles {
		if ra.principal == principal && within(path, ra.scope) {
			return true
		}
	}
	return false
}

// identity serves PUT and DELETE of a user-assigned managed identity (GET is the generic resource's): made at
// once, with its principal and client ids, as Microsoft.ManagedIdentity answers.
func (s *Server) identity(w http.ResponseWriter, r *http.Request, res *resource, id, group, name string) {
	key := strings.ToLower(id)
	switch r.Method {
	case http.MethodDelete:
		if res == nil {
			w.WriteHeader(204)
			return
		}
		delete(s.res, key)
		w.WriteHeader(200)
	case http.MethodPut:
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			armError(w, 400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: "+err.Error())
			return
		}
		loc, _ := body["location"].(string)
		if loc == "" {
			armError(w, 400, "LocationRequired", "The location property is required for this definition.")
			return
		}
		if f := s.injected("identity", loc, ""); f != nil {
			armError(w, 403, f.code, f.msg)
			return
		}
		status := 200
		if res == nil {
			status = 201
			res = &resource{id: id, typ: "Microsoft.ManagedIdentity/userAssignedIdentities", group: group, body: map[string]any{
				"properties": map[string]any{"tenantId": Tenant, "principalId": s.id(), "clientId": s.id()}}}
			s.res[key] = res
		}
		res.body["id"], res.body["name"], res.body["type"] = id, name, res.typ
		res.body["location"], res.body["tags"] = loc, body["tags"]
		writeJSON(w, status, res.body)
	default:
		armError(w, 405, "MethodNotAllowed", r.Method)
	}
}

// roleAssignment serves PUT, GET and DELETE of a role assignment at scope: its principal must be a known
// identity's (PrincipalNotFound otherwise), and Fail("role", ...) refuses it as a user without
// Microsoft.Authorization/roleAssignments/write is refused.
func (s *Server) roleAssignment(w http.ResponseWriter, r *http.Request, scope, name string) {
	id := scope + "/providers/Microsoft.Authorization/roleAssignments/" + name
	key := strings.ToLower(id)
	ra, exists := s.roles[key]
	view := func(ra *roleAssignment) map[string]any {
		return map[string]any{"id": ra.id, "name": ra.name, "type": "Microsoft.Authorization/roleAssignments",
			"properties": map[string]any{"roleDefinitionId": ra.role, "principalId": ra.principal,
				"principalType": "ServicePrincipal", "scope": ra.scope}}
	}
	switch r.Method {
	case http.MethodGet:
		if !exists {
			armError(w, 404, "RoleAssignmentNotFound", "The role assignment '"+name+"' is not found.")
			return
		}
		writeJSON(w, 200, view(ra))
	case http.MethodDelete:
		if !exists {
			w.WriteHeader(204)
			return
		}
		delete(s.roles, key)
		writeJSON(w, 200, view(ra))
	case http.MethodPut:
		var body struct {
			Properties struct {
				RoleDefinitionID string `json:"roleDefinitionId"`
				PrincipalID      string `json:"principalId"`
			} `json:"properties"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Properties.RoleDefinitionID == "" {
			armError(w, 400, "InvalidRoleAssignmentRequest", "The request to create a role assignment is invalid.")
			return
		}
		if f := s.injected("role", "", ""); f != nil {
			armError(w, 403, f.code, f.msg)
			return
		}
		if s.principalIdentity(body.Properties.PrincipalID) == nil {
			armError(w, 400, "PrincipalNotFound", fmt.Sprintf("Principal %s does not exist in the directory %s.",
				body.Properties.PrincipalID, Tenant))
			return
		}
		status := 201
		if exists {
			status = 200
		}
		ra = &roleAssignment{id: id, name: name, scope: scope, principal: body.Properties.PrincipalID, role: body.Properties.RoleDefinitionID}
		s.roles[key] = ra
		writeJSON(w, status, view(ra))
	default:
		armError(w, 405, "MethodNotAllowed", r.Method)
	}
}

func (s *Server) principalIdentity(principal string) *resource {
	for _, r := range s.res {
		if r.typ == "Microsoft.ManagedIdentity/userAssignedIdentities" && principal != "" && str(r.body, "properties", "principalId") == principal {
			return r
		}
	}
	return nil
}

// imds is the instance metadata service's token endpoint, as a VM reaches it: GET with "Metadata: true", the
// resource and the client_id of a user-assigned identity attached to the calling VM (found by its address).
func (s *Server) imds(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fail := func(status int, desc string) {
		writeJSON(w, status, map[string]any{"error": "invalid_request", "error_description": desc})
	}
	q := r.URL.Query()
	switch {
	case r.URL.Path != "/metadata/identity/oauth2/token" || r.Method != http.MethodGet:
		fail(404, "no such endpoint")
		return
	case r.Header.Get("Metadata") != "true":
		fail(400, "Required metadata header not specified")
		return
	case q.Get("api-version") == "":
		fail(400, "Required query variable 'api-version' is missing")
		return
	case q.Get("resource") != "https://management.core.windows.net/" && q.Get("resource") != "https://management.azure.com/":
		fail(400, "Specified resource is not supported by the fake: "+q.Get("resource"))
		return
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	var caller *VM
	for _, res := range s.res {
		if res.vm != nil && res.vm.Host != nil && res.vm.Host.Host == host {
			caller = res.vm
		}
	}
	if caller == nil {
		fail(400, "Identity not found (the caller "+host+" is no VM)")
		return
	}
	var principal string
	for _, id := range caller.identities {
		if res := s.res[id]; res != nil && str(res.body, "properties", "clientId") == q.Get("client_id") {
			principal = str(res.body, "properties", "principalId")
		}
	}
	if principal == "" {
		fail(400, "Identity not found")
		return
	}
	tok := "fake-mi-token-" + s.id()
	s.tokens[tok] = principal
	writeJSON(w, 200, map[string]any{"access_token": tok, "client_id": q.Get("client_id"), "expires_in": "86399",
		"expires_on": strconv.FormatInt(time.Now().Add(24*time.Hour).Unix(), 10), "resource": q.Get("resource"),
		"token_type": "Bearer"})
}

// Identities are the user-assigned identities attached to each VM, by the VM's name (identity names).
func (s *Server) Identities() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	for _, r := range s.res {
		if r.vm == nil {
			continue
		}
		for _, id := range r.vm.identities {
			if ir := s.res[id]; ir != nil {
				out[r.vm.Name] = append(out[r.vm.Name], str(ir.body, "name"))
			}
		}
	}
	return out
}

// RevokeRoles deletes every role assignment, as an administrator might: the identities' tokens are refused
// from then on.
func (s *Server) RevokeRoles() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles = map[string]*roleAssignment{}
}

// Refused lists the calls made with an identity's token that its role assignments did not allow, as
// "METHOD PATH".
func (s *Server) Refused() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.refused...)
}
