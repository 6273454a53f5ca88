package fakegce

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// token answers the OAuth 2.0 token endpoint: a jwt-bearer grant whose assertion is signed (RS256) by a key
// ServiceAccountKey issued, for this endpoint, not expired.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	fail := func(code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if err := r.ParseForm(); err == nil && r.PostForm.Get("grant_type") == "refresh_token" {
		s.mu.Lock()
		ok := s.refresh[r.PostForm.Get("refresh_token")] && r.PostForm.Get("client_id") != "" && r.PostForm.Get("client_secret") != ""
		s.mu.Unlock()
		if !ok {
			fail("invalid_grant", "Token has been expired or revoked.")
			return
		}
		s.issue(w)
		return
	}
	if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		fail("unsupported_grant_type", "Invalid grant_type: "+r.PostForm.Get("grant_type"))
		return
	}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) != 3 {
		fail("invalid_request", "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe")
		return
	}
	var claims struct {
		Iss, Aud, Scope string
		Iat, Exp        int64
	}
	raw, err1 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err2 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || json.Unmarshal(raw, &claims) != nil {
		fail("invalid_request", "Invalid JWT")
		return
	}
	s.mu.Lock()
	key := s.keys[claims.Iss]
	s.mu.Unlock()
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	now := time.Now().Unix()
	switch {
	case key == nil:
		fail("invalid_grant", "Invalid grant: account not found")
		return
	case rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig) != nil:
		fail("invalid_grant", "Invalid JWT Signature.")
		return
	case claims.Aud != s.TokenURL || claims.Exp < now || claims.Iat > now+60 || claims.Scope == "":
		fail("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
		return
	}
	s.issue(w)
}

// issue answers a granted token request with a new access token.
func (s *Server) issue(w http.ResponseWriter) {
	s.mu.Lock()
	tok := "ya29.fake-" + s.id()
	s.tokens[tok] = true
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
}

func notFound(what string) *apiError {
	return &apiError{status: 404, reason: "notFound", msg: "The resource '" + what + "' was not found"}
}

// route serves the project's resources; s.mu is held.
func (s *Server) route(r *http.Request, p []string) (any, *apiError) {
	m := r.Method
	switch {
	case len(p) == 1 && p[0] == "zones" && m == http.MethodGet:
		var items []map[string]string
		for _, reg := range s.Regions {
			for _, z := range Zones(reg) {
				items = append(items, map[string]string{"kind": "compute#zone", "name": z, "status": "UP", "region": reg})
			}
		}
		return map[string]any{"kind": "compute#zoneList", "items": items}, nil
	case len(p) >= 2 && p[0] == "zones" && !s.knownZone(p[1]):
		return nil, notFound("projects/" + s.Project + "/zones/" + p[1])
	case len(p) == 3 && p[0] == "zones" && p[2] == "instances" && m == http.MethodPost:
		return s.insert(r, p[1])
	case len(p) == 3 && p[0] == "zones" && p[2] == "instances" && m == http.MethodGet:
		return s.list(p[1], r.URL.Query().Get("filter")), nil
	case len(p) == 4 && p[0] == "zones" && p[2] == "instances" && m == http.MethodGet:
		in := s.insts[p[1]+"/"+p[3]]
		if in == nil {
			return nil, notFound("projects/" + s.Project + "/zones/" + p[1] + "/instances/" + p[3])
		}
		out := s.resource(in)
		s.advance(in)
		return out, nil
	case len(p) == 4 && p[0] == "zones" && p[2] == "instances" && m == http.MethodDelete:
		return s.change(p[1], p[3], "delete")
	case len(p) == 5 && p[0] == "zones" && p[2] == "instances" && m == http.MethodPost && (p[4] == "stop" || p[4] == "start"):
		return s.change(p[1], p[3], p[4])
	case len(p) == 4 && p[0] == "zones" && p[2] == "operations" && m == http.MethodGet:
		return s.getOp(p[1] + "/" + p[3])
	case len(p) == 3 && p[0] == "global" && p[1] == "operations" && m == http.MethodGet:
		return s.getOp("global/" + p[2])
	case len(p) == 2 && p[0] == "global" && p[1] == "firewalls" && m == http.MethodPost:
		return s.firewall(r, "", false)
	case len(p) == 3 && p[0] == "global" && p[1] == "firewalls" && m == http.MethodPut:
		return s.firewall(r, p[2], true)
	case len(p) == 3 && p[0] == "global" && p[1] == "firewalls" && m == http.MethodDelete:
		s.calls = append(s.calls, "firewall delete")
		if s.fws[p[2]] == nil {
			return nil, notFound("projects/" + s.Project + "/global/firewalls/" + p[2])
		}
		delete(s.fws, p[2])
		return s.newOp("", "delete", "global/firewalls/"+p[2], nil), nil
	}
	return nil, &apiError{status: 400, reason: "invalid", msg: fmt.Sprintf("fakegce: no method %s %s", m, strings.Join(p, "/"))}
}

func (s *Server) knownZone(z string) bool {
	return slices.Contains(s.Regions, regionOf(z)) && slices.Contains(Zones(regionOf(z)), z)
}

// newOp records an operation, RUNNING until it is first read (DONE then, with f's error if any).
func (s *Server) newOp(zone, kind, target string, f *fault) map[string]any {
	o := &op{Name: "operation-" + s.id(), Zone: zone, Type: kind, Target: target, Status: "RUNNING", err: f}
	key := "global/" + o.Name
	if zone != "" {
		key = zone + "/" + o.Name
	}
	s.ops[key] = o
	return s.opJSON(o)
}

func (s *Server) opJSON(o *op) map[string]any {
	out := map[string]any{"kind": "compute#operation", "name": o.Name, "operationType": o.Type, "status": o.Status,
		"targetLink": s.Endpoint + "projects/" + s.Project + "/" + o.Target, "progress": 0}
	if o.Zone != "" {
		out["zone"] = s.Endpoint + "projects/" + s.Project + "/zones/" + o.Zone
	}
	if o.Status == "DONE" {
		out["progress"] = 100
		if o.err != nil {
			out["error"] = map[string]any{"errors": []map[string]string{{"code": o.err.code, "message": o.err.msg}}}
			out["httpErrorStatusCode"] = 403
		}
	}
	return out
}

func (s *Server) getOp(key string) (any, *apiError) {
	o := s.ops[key]
	if o == nil {
		return nil, notFound("projects/" + s.Project + "/zones/" + key)
	}
	out := s.opJSON(o)
	o.Status = "DONE"
	return out, nil
}

// injected answers a scripted fault of verb in zone: upper-case codes in a failed operation, others at once.
func (s *Server) fault(verb, zone, target string) (any, *apiError, bool) {
	f := s.injected(verb, zone)
	if f == nil {
		return nil, nil, false
	}
	if strings.ToUpper(f.code) == f.code {
		return s.newOp(zone, verb, target, f), nil, true
	}
	status := map[string]int{"notFound": 404, "forbidden": 403, "authError": 401, "invalid": 400, "alreadyExists": 409}[f.code]
	if status == 0 {
		status = 400
	}
	return nil, &apiError{status: status, reason: f.code, msg: f.msg}, true
}

var namePattern = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

// insert answers instances.insert, booting the instance's sshd host.
func (s *Server) insert(r *http.Request, zone string) (any, *apiError) {
	s.calls = append(s.calls, "insert "+zone)
	var body struct {
		Name, MachineType string
		Labels            map[string]string
		Tags              struct{ Items []string }
		Metadata          struct{ Items []struct{ Key, Value string } }
		Disks             []struct {
			Boot             bool
			InitializeParams struct{ SourceImage, DiskSizeGb, DiskType string }
		}
		NetworkInterfaces []struct{ Network string }
		GuestAccelerators []struct {
			AcceleratorType  string
			AcceleratorCount int
		}
		Scheduling struct {
			OnHostMaintenance, ProvisioningModel string
			Preemptible                          bool
		}
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		return nil, &apiError{status: 400, reason: "parseError", msg: "This API does not support parsing form-encoded input."}
	}
	switch {
	case !namePattern.MatchString(body.Name):
		return nil, &apiError{status: 400, reason: "invalid", msg: "Invalid value for field 'resource.name': '" + body.Name + "'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'"}
	case s.insts[zone+"/"+body.Name] != nil:
		return nil, &apiError{status: 409, reason: "alreadyExists", msg: "The resource 'projects/" + s.Project + "/zones/" + zone + "/instances/" + body.Name + "' already exists"}
	case len(body.Disks) == 0 || len(body.NetworkInterfaces) == 0:
		return nil, &apiError{status: 400, reason: "required", msg: "Required field 'resource.disks' not specified"}
	case !slices.Contains(s.Images, body.Disks[0].InitializeParams.SourceImage):
		return nil, notFound(body.Disks[0].InitializeParams.SourceImage)
	}
	target := "zones/" + zone + "/instances/" + body.Name
	if out, e, ok := s.fault("insert", zone, target); ok {
		return out, e
	}
	in := &Instance{Name: body.Name, Zone: zone, MachineType: path.Base(body.MachineType), Image: body.Disks[0].InitializeParams.SourceImage,
		DiskGB: body.Disks[0].InitializeParams.DiskSizeGb, DiskType: path.Base(body.Disks[0].InitializeParams.DiskType),
		Status: "PROVISIONING", Labels: body.Labels, Tags: body.Tags.Items, Metadata: map[string]string{},
		Spot:              body.Scheduling.ProvisioningModel == "SPOT" || body.Scheduling.Preemptible,
		OnHostMaintenance: body.Scheduling.OnHostMaintenance, pendingReads: 1}
	for _, it := range body.Metadata.Items {
		in.Metadata[it.Key] = it.Value
	}
	for _, g := range body.GuestAccelerators {
		in.Accelerators = append(in.Accelerators, path.Base(g.AcceleratorType)+":"+strconv.Itoa(g.AcceleratorCount))
	}
	if err := s.boot(in); err != nil {
		return nil, &apiError{status: 500, reason: "backendError", msg: err.Error()}
	}
	s.insts[zone+"/"+in.Name] = in
	s.order = append(s.order, zone+"/"+in.Name)
	return s.newOp(zone, "insert", target, nil), nil
}

// boot starts the instance's sshd host in the home it had before (a stopped instance keeps its disk), and
// authorizes the ssh-keys metadata's keys of the host's user, as the guest agent does.
func (s *Server) boot(in *Instance) error {
	h := s.NewHost(s.t, in.home)
	if in.home == "" {
		in.home = h.Home
	}
	in.Host = h
	f, err := os.OpenFile(filepath.Join(h.Dir, "authorized_keys"), os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, line := range strings.Split(in.Metadata["ssh-keys"], "\n") {
		if user, key, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && user == h.User {
			if _, err := fmt.Fprintln(f, key); err != nil {
				return err
			}
		}
	}
	return nil
}

// resource is the instance's JSON as instances.get shows it.
func (s *Server) resource(in *Instance) map[string]any {
	ni := map[string]any{"network": s.Endpoint + "projects/" + s.Project + "/global/networks/default", "name": "nic0"}
	if in.Host != nil {
		ni["networkIP"] = in.Host.Host
		ni["accessConfigs"] = []map[string]string{{"type": "ONE_TO_ONE_NAT", "name": "External NAT", "natIP": in.Host.Host}}
	}
	sched := map[string]any{"onHostMaintenance": in.OnHostMaintenance, "provisioningModel": "STANDARD"}
	if in.Spot {
		sched["provisioningModel"] = "SPOT"
	}
	return map[string]any{"kind": "compute#instance", "name": in.Name, "status": in.Status,
		"zone":        s.Endpoint + "projects/" + s.Project + "/zones/" + in.Zone,
		"machineType": s.Endpoint + "projects/" + s.Project + "/zones/" + in.Zone + "/machineTypes/" + in.MachineType,
		"labels":      in.Labels, "networkInterfaces": []any{ni}, "scheduling": sched,
		"tags": map[string]any{"items": in.Tags}}
}

// advance moves a transitional status on once it has been seen.
func (s *Server) advance(in *Instance) {
	if in.pendingReads > 0 {
		in.pendingReads--
		return
	}
	switch in.Status {
	case "PROVISIONING", "STAGING":
		in.Status = "RUNNING"
	case "STOPPING":
		in.Status = "TERMINATED"
	}
}

var labelFilter = regexp.MustCompile(`labels\.([a-z0-9_-]+)\s*=\s*"?([^")\s]*)"?`)

// list answers instances.list with labels.KEY = "VALUE" filters (ANDed).
func (s *Server) list(zone, filter string) map[string]any {
	var items []map[string]any
	for _, k := range s.order {
		in := s.insts[k]
		if in == nil || in.Zone != zone {
			continue
		}
		match := true
		for _, m := range labelFilter.FindAllStringSubmatch(filter, -1) {
			match = match && in.Labels[m[1]] == m[2]
		}
		if match {
			items = append(items, s.resource(in))
			s.advance(in)
		}
	}
	out := map[string]any{"kind": "compute#instanceList"}
	if items != nil {
		out["items"] = items
	}
	return out
}

// change answers delete, stop and start.
func (s *Server) change(zone, name, verb string) (any, *apiError) {
	s.calls = append(s.calls, verb+" "+zone)
	key := zone + "/" + name
	in := s.insts[key]
	target := "zones/" + zone + "/instances/" + name
	if in == nil {
		return nil, notFound("projects/" + s.Project + "/" + target)
	}
	if out, e, ok := s.fault(verb, zone, target); ok {
		return out, e
	}
	switch verb {
	case "delete":
		s.halt(in, "TERMINATED")
		delete(s.insts, key)
	case "stop":
		if in.Status == "RUNNING" || in.Status == "PROVISIONING" || in.Status == "STAGING" {
			s.halt(in, "STOPPING")
			in.pendingReads = 1
		}
	case "start":
		if in.Status == "TERMINATED" {
			if err := s.boot(in); err != nil {
				return nil, &apiError{status: 500, reason: "backendError", msg: err.Error()}
			}
			in.Status, in.pendingReads = "STAGING", 1
		} else if in.Status != "RUNNING" {
			return nil, &apiError{status: 400, reason: "resourceNotReady", msg: "The resource '" + target + "' is not ready"}
		}
	}
	return s.newOp(zone, verb, target, nil), nil
}

var portPattern = regexp.MustCompile(`^([0-9]{1,5})(-([0-9]{1,5}))?$`)

// firewall answers firewalls.insert and update.
func (s *Server) firewall(r *http.Request, name string, update bool) (any, *apiError) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		return nil, &apiError{status: 400, reason: "parseError", msg: err.Error()}
	}
	if !update {
		name, _ = body["name"].(string)
	}
	s.calls = append(s.calls, "firewall "+map[bool]string{false: "insert", true: "update"}[update])
	switch {
	case !namePattern.MatchString(name):
		return nil, &apiError{status: 400, reason: "invalid", msg: "Invalid value for field 'resource.name': '" + name + "'"}
	case !update && s.fws[name] != nil:
		return nil, &apiError{status: 409, reason: "alreadyExists", msg: "The resource 'projects/" + s.Project + "/global/firewalls/" + name + "' already exists"}
	case update && s.fws[name] == nil:
		return nil, notFound("projects/" + s.Project + "/global/firewalls/" + name)
	}
	allowed, _ := body["allowed"].([]any)
	for _, a := range allowed {
		ports, _ := a.(map[string]any)["ports"].([]any)
		for _, p := range ports {
			ps, _ := p.(string)
			m := portPattern.FindStringSubmatch(ps)
			bad := m == nil
			if !bad {
				from, _ := strconv.Atoi(m[1])
				to := from
				if m[3] != "" {
					to, _ = strconv.Atoi(m[3])
				}
				bad = from > 65535 || to > 65535 || from > to
			}
			if bad {
				return nil, &apiError{status: 400, reason: "invalid", msg: "Invalid value for field 'resource.allowed[0].ports[0]': '" + ps + "'. Invalid port specification."}
			}
		}
	}
	if out, e, ok := s.fault("firewall", "", "global/firewalls/"+name); ok {
		return out, e
	}
	s.fws[name] = body
	return s.newOp("", map[bool]string{false: "insert", true: "update"}[update], "global/firewalls/"+name, nil), nil
}
