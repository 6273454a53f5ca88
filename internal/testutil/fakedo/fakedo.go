// Package fakedo is a fake of DigitalOcean's REST API (v2, https://api.digitalocean.com/v2) at the wire level,
// for tests: JSON answers wrapped as DigitalOcean wraps them (`{"droplets": [...], "links": {}, "meta":
// {"total": N}}`), errors as `{"id": "unprocessable_entity", "message": "..."}` with DigitalOcean's HTTP
// statuses, the token as a Bearer token, reached by stix's real HTTP client through STIX_DO_ENDPOINT. Every
// droplet it creates is a real sshd host in a network namespace of its own (package sshhost) that accepts the
// SSH keys it was created with; powering a droplet off kills its host's processes and keeps its home (its
// disk), powering it on boots a host on that home again. Tests script errors per operation and region (Fail),
// the droplet limit (SetDropletLimit) and where a size is offered (SetSizeRegions).
//
// Routes, under /v2: GET /account; GET, POST and DELETE (by tag_name) /droplets; POST /droplets/{id}/actions;
// POST /droplets/actions?tag_name=; GET /sizes; GET /images/{slug or id}; GET and POST /account/keys, DELETE
// /account/keys/{id}; GET and POST /firewalls, DELETE /firewalls/{id}; GET and POST /volumes, GET and DELETE
// /volumes/{id}, DELETE /droplets/{id}/destroy_with_associated_resources/selective (volumes.go); a droplet's
// create call attaches its `volumes`.
package fakedo

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/testutil/sshhost"
)

// Token is the API token the server accepts unless the test sets others (SetTokens).
const Token = "dop_v1_fakedigitaloceantoken"

// The messages DigitalOcean answers the create call with (HTTP 422, id unprocessable_entity).
const (
	SizeUnavailable   = "Size is not available in this region."
	RegionUnavailable = "This region is currently unavailable. Please choose another region."
	DropletLimit      = "creating this/these droplet(s) will exceed your droplet limit"
	InvalidImage      = "You specified an invalid image for Droplet creation."
)

// Size is a size the fake offers.
type Size struct {
	Slug    string
	VCPUs   int
	Memory  int // MiB
	Price   float64
	Regions []string
	// Disk is the size's own disk in GB (the sizes API's `disk`); 25 when 0.
	Disk int
}

// Server is the fake DigitalOcean endpoint. Methods are safe to call while it serves.
type Server struct {
	// URL is the endpoint, without /v2: set STIX_DO_ENDPOINT to it.
	URL string
	// NewHost starts the sshd host behind a droplet on a home (empty: a new one); sshhost.StartInNetnsWithHome
	// by default.
	NewHost func(t testing.TB, home string) *sshhost.Host

	t         testing.TB
	mu        sync.Mutex
	tokens    []string
	limit     int
	sizes     map[string]*Size
	images    []string
	faults    []*fault
	calls     []string
	seq       int
	keys      []sshKey
	droplets  map[int]*Droplet
	order     []int
	firewalls []*Firewall
	volumes   []*Volume
	busy      time.Duration
}

type sshKey struct {
	ID                     int
	Name, PublicKey, Print string
}

type fault struct {
	op, region, id, msg string
	status              int
	spare               int // matching calls still answered before the fault starts
}

// Droplet is one droplet the fake runs.
type Droplet struct {
	ID                        int
	Name, Region, Size, Image string
	Tags                      []string
	SSHKeys                   []int
	// Volumes are the ids of the volumes attached at creation (`volume_ids`).
	Volumes []string
	// Status is new, active or off; a deleted droplet is no longer listed.
	Status string
	// Host is the sshd behind the droplet while it is on.
	Host    *sshhost.Host
	home    string
	deleted bool
}

// Firewall is one firewall the fake keeps, as created.
type Firewall struct {
	ID, Name string
	Tags     []string
	Inbound  []map[string]any
}

// New starts the fake with the given sizes and the images DigitalOcean offers everyone (ubuntu-22-04-x64,
// gpu-h100x1-base, gpu-h100x8-base), closed when the test ends. It listens on the netns bridge
// (sshhost.NewServer), so that the agents on its droplets reach it as droplets reach the API.
func New(t testing.TB, sizes ...Size) *Server {
	s := &Server{t: t, tokens: []string{Token}, limit: 25, sizes: map[string]*Size{}, droplets: map[int]*Droplet{},
		images: []string{"ubuntu-22-04-x64", "gpu-h100x1-base", "gpu-h100x8-base"}, NewHost: sshhost.StartInNetnsWithHome}
	for _, sz := range sizes {
		s.sizes[sz.Slug] = &sz
	}
	srv := sshhost.NewServer(t, http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// SetTokens replaces the tokens the server accepts: a token revoked.
func (s *Server) SetTokens(tokens ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = tokens
}

// SetDropletLimit sets the account's droplet limit (25 at first).
func (s *Server) SetDropletLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = n
}

// SetSizeRegions says in which regions a size is offered now.
func (s *Server) SetSizeRegions(slug string, regions ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sizes[slug].Regions = regions
}

// Fail makes every later call of op ("create", "delete", "action", "droplets", "account", "sizes", "images",
// "keys", "firewalls", "volumes", "create-volume", "delete-volume") in region (anywhere when empty) fail with the HTTP status and DigitalOcean's error id and
// message.
func (s *Server) Fail(op, region string, status int, id, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{op: op, region: region, id: id, msg: message, status: status})
}

// FailAfter is Fail from the (n+1)th later call of op in region on: the first n succeed.
func (s *Server) FailAfter(n int, op, region string, status int, id, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{op: op, region: region, id: id, msg: message, status: status, spare: n})
}

// Calls returns "op region" for every call so far (region empty when the call has none).
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Droplets returns a copy of every droplet not deleted, in creation order.
func (s *Server) Droplets() []Droplet {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Droplet
	for _, id := range s.order {
		if d := s.droplets[id]; !d.deleted {
			out = append(out, *d)
		}
	}
	return out
}

// Firewalls returns a copy of every firewall.
func (s *Server) Firewalls() []Firewall {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Firewall
	for _, fw := range s.firewalls {
		out = append(out, *fw)
	}
	return out
}

// Live counts what is left: droplets not deleted, firewalls, SSH keys.
func (s *Server) Live() (droplets, firewalls, keys int) {
	return len(s.Droplets()), len(s.Firewalls()), s.keyCount()
}

func (s *Server) keyCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys)
}

// Busy is the time the server has spent answering so far (booting droplets' hosts included).
func (s *Server) Busy() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.busy
}

// apiError is a DigitalOcean error answer.
type apiError struct {
	status  int
	id, msg string
}

func unprocessable(msg string) *apiError {
	return &apiError{http.StatusUnprocessableEntity, "unprocessable_entity", msg}
}

func notFound() *apiError {
	return &apiError{http.StatusNotFound, "not_found", "The resource you were accessing could not be found."}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() {
		s.mu.Lock()
		s.busy += time.Since(start)
		s.mu.Unlock()
	}()
	s.mu.Lock()
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	ok := slices.Contains(s.tokens, tok)
	s.mu.Unlock()
	var data any
	status := http.StatusOK
	var e *apiError
	if !ok {
		e = &apiError{http.StatusUnauthorized, "unauthorized", "Unable to authenticate you"}
	} else {
		status, data, e = s.route(r)
	}
	w.Header().Set("Content-Type", "application/json")
	if e != nil {
		w.WriteHeader(e.status)
		_ = json.NewEncoder(w).Encode(map[string]string{"id": e.id, "message": e.msg, "request_id": "fake-" + strconv.Itoa(int(start.UnixNano()%1e6))})
		return
	}
	w.WriteHeader(status)
	if data != nil {
		_ = json.NewEncoder(w).Encode(data)
	}
}

// injected returns the fault scripted for op in region, if any; the caller holds mu.
func (s *Server) injected(op, region string) *apiError {
	s.calls = append(s.calls, strings.TrimSpace(op+" "+region))
	for _, f := range s.faults {
		if f.op == op && (f.region == "" || f.region == region) {
			if f.spare > 0 {
				f.spare--
				continue
			}
			return &apiError{f.status, f.id, f.msg}
		}
	}
	return nil
}

func decode(r *http.Request, v any) *apiError {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return &apiError{http.StatusBadRequest, "bad_request", "the body is not JSON: " + err.Error()}
	}
	return nil
}

// list wraps items as DigitalOcean's listings are.
func list(key string, items any, n int) map[string]any {
	return map[string]any{key: items, "links": map[string]any{}, "meta": map[string]int{"total": n}}
}

func (s *Server) route(r *http.Request) (int, any, *apiError) {
	path := strings.TrimPrefix(r.URL.Path, "/v2/")
	parts := strings.Split(path, "/")
	tag := r.URL.Query().Get("tag_name")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && path == "account":
		if e := s.injected("account", ""); e != nil {
			return 0, nil, e
		}
		return 200, map[string]any{"account": map[string]any{"droplet_limit": s.limit, "floating_ip_limit": 3,
			"email": "user@example.com", "uuid": "b6fr89dbf6d9156cace5f3c78dc9851d957381ef", "email_verified": true,
			"status": "active", "status_message": ""}}, nil
	case r.Method == http.MethodGet && path == "droplets":
		if e := s.injected("droplets", ""); e != nil {
			return 0, nil, e
		}
		out := []map[string]any{}
		for _, id := range s.order {
			d := s.droplets[id]
			if d.deleted || (tag != "" && !slices.Contains(d.Tags, tag)) {
				continue
			}
			out = append(out, dropletJSON(d))
			if d.Status == "new" { // a booting droplet is shown once
				d.Status = "active"
			}
		}
		n := len(out)
		if pp, _ := strconv.Atoi(r.URL.Query().Get("per_page")); pp > 0 && pp < len(out) {
			out = out[:pp]
		}
		return 200, list("droplets", out, n), nil
	case r.Method == http.MethodPost && path == "droplets":
		var req struct {
			Name    string   `json:"name"`
			Names   []string `json:"names"`
			Region  string   `json:"region"`
			Size    string   `json:"size"`
			Image   any      `json:"image"`
			SSHKeys []any    `json:"ssh_keys"`
			Tags    []string `json:"tags"`
			Volumes []string `json:"volumes"`
		}
		if e := decode(r, &req); e != nil {
			return 0, nil, e
		}
		return s.create(req.Region, req.Size, fmt.Sprint(req.Image), append(req.Names, nonEmpty(req.Name)...), req.SSHKeys, req.Tags, req.Volumes)
	case r.Method == http.MethodDelete && path == "droplets":
		if e := s.injected("delete", ""); e != nil {
			return 0, nil, e
		}
		if tag == "" {
			return 0, nil, unprocessable("tag_name is required")
		}
		for _, d := range s.droplets {
			if !d.deleted && slices.Contains(d.Tags, tag) {
				s.powerOff(d)
				d.deleted = true
			}
		}
		s.detachLater()
		return http.StatusNoContent, nil, nil
	case r.Method == http.MethodDelete && len(parts) == 4 && parts[0] == "droplets" && parts[2] == "destroy_with_associated_resources" && parts[3] == "selective":
		return s.destroySelective(r, parts[1])
	case r.Method == http.MethodPost && (path == "droplets/actions" || len(parts) == 3 && parts[0] == "droplets" && parts[2] == "actions"):
		var req struct {
			Type string `json:"type"`
		}
		if e := decode(r, &req); e != nil {
			return 0, nil, e
		}
		return s.act(parts, tag, req.Type)
	case r.Method == http.MethodGet && path == "sizes":
		if e := s.injected("sizes", ""); e != nil {
			return 0, nil, e
		}
		out := []map[string]any{}
		for _, sz := range s.sizes {
			disk := sz.Disk
			if disk == 0 {
				disk = 25
			}
			out = append(out, map[string]any{"slug": sz.Slug, "memory": sz.Memory, "vcpus": sz.VCPUs, "disk": disk,
				"transfer": 1.0, "price_monthly": sz.Price * 672, "price_hourly": sz.Price, "regions": sz.Regions,
				"available": len(sz.Regions) > 0, "description": "Basic"})
		}
		return 200, list("sizes", out, len(out)), nil
	case r.Method == http.MethodGet && len(parts) == 2 && parts[0] == "images":
		if e := s.injected("images", ""); e != nil {
			return 0, nil, e
		}
		if !slices.Contains(s.images, parts[1]) {
			return 0, nil, notFound()
		}
		return 200, map[string]any{"image": map[string]any{"id": 100 + slices.Index(s.images, parts[1]), "slug": parts[1],
			"distribution": "Ubuntu", "public": true, "type": "base", "status": "available"}}, nil
	case path == "account/keys" || strings.HasPrefix(path, "account/keys/"):
		return s.routeKeys(r, parts)
	case path == "firewalls" || strings.HasPrefix(path, "firewalls/"):
		return s.routeFirewalls(r, parts)
	case path == "volumes" || strings.HasPrefix(path, "volumes/"):
		return s.routeVolumes(r, parts)
	}
	return 0, nil, &apiError{http.StatusNotFound, "not_found", "no route " + r.Method + " " + r.URL.Path + " (fakedo)"}
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func dropletJSON(d *Droplet) map[string]any {
	v4 := []map[string]string{}
	if d.Host != nil {
		v4 = append(v4, map[string]string{"ip_address": d.Host.Host, "netmask": "255.255.255.0", "gateway": "", "type": "private"},
			map[string]string{"ip_address": d.Host.Host, "netmask": "255.255.255.0", "gateway": "", "type": "public"})
	}
	return map[string]any{"id": d.ID, "name": d.Name, "memory": 8192, "vcpus": 4, "disk": 160, "locked": false,
		"status": d.Status, "created_at": "2026-01-01T00:00:00Z", "features": []string{"private_networking"},
		"image": map[string]any{"slug": d.Image}, "size_slug": d.Size,
		"region":   map[string]any{"slug": d.Region, "name": d.Region, "available": true},
		"networks": map[string]any{"v4": v4, "v6": []any{}}, "tags": d.Tags, "volume_ids": append([]string{}, d.Volumes...), "vpc_uuid": "vpc-" + d.Region}
}

func (s *Server) create(region, sizeSlug, image string, names []string, keys []any, tags []string, volumes []string) (int, any, *apiError) {
	if e := s.injected("create", region); e != nil {
		return 0, nil, e
	}
	live := 0
	for _, d := range s.droplets {
		if !d.deleted {
			live++
		}
	}
	sz := s.sizes[sizeSlug]
	switch {
	case len(names) == 0 || len(names) > 10:
		return 0, nil, unprocessable("You must specify between 1 and 10 names.")
	case live+len(names) > s.limit:
		return 0, nil, unprocessable(DropletLimit)
	case sz == nil:
		return 0, nil, unprocessable("You specified an invalid size for Droplet creation.")
	case !slices.Contains(sz.Regions, region):
		return 0, nil, unprocessable(SizeUnavailable)
	case !slices.Contains(s.images, image) && !slices.ContainsFunc(s.images, func(im string) bool { return strconv.Itoa(100+slices.Index(s.images, im)) == image }):
		return 0, nil, unprocessable(InvalidImage)
	}
	vols, e := s.attachable(volumes, region, len(names))
	if e != nil {
		return 0, nil, e
	}
	var pubs []string
	var ids []int
	for _, k := range keys {
		i := slices.IndexFunc(s.keys, func(sk sshKey) bool { return fmt.Sprint(k) == strconv.Itoa(sk.ID) || fmt.Sprint(k) == sk.Print })
		if i < 0 {
			return 0, nil, unprocessable("SSH key " + fmt.Sprint(k) + " does not exist")
		}
		pubs, ids = append(pubs, s.keys[i].PublicKey), append(ids, s.keys[i].ID)
	}
	out := []map[string]any{}
	for _, name := range names {
		s.seq++
		d := &Droplet{ID: 3000000 + s.seq, Name: name, Region: region, Size: sizeSlug, Image: image, Tags: tags, SSHKeys: ids, Status: "new"}
		if err := s.boot(d, pubs); err != nil {
			return 0, nil, &apiError{http.StatusInternalServerError, "server_error", err.Error()}
		}
		s.droplets[d.ID] = d
		s.order = append(s.order, d.ID)
		for _, v := range vols {
			v.DropletIDs = []int{d.ID}
			d.Volumes = append(d.Volumes, v.ID)
		}
		out = append(out, dropletJSON(d))
	}
	return http.StatusAccepted, map[string]any{"droplets": out, "links": map[string]any{"actions": []any{}}}, nil
}

// boot starts the droplet's sshd host on its home (its disk), accepting its SSH keys.
func (s *Server) boot(d *Droplet, pubs []string) error {
	h := s.NewHost(s.t, d.home)
	if d.home == "" {
		d.home = h.Home
	}
	d.Host = h
	for _, p := range pubs {
		if err := h.Authorize(p); err != nil {
			return err
		}
	}
	return nil
}

// powerOff kills the droplet's host, as pulling its power; its home stays.
func (s *Server) powerOff(d *Droplet) {
	if d.Host != nil {
		d.Host.KillAll()
		d.Host = nil
	}
	d.Status = "off"
}

// act runs a droplet action on one droplet (parts droplets/{id}/actions) or on those carrying tag.
func (s *Server) act(parts []string, tag, kind string) (int, any, *apiError) {
	if e := s.injected("action", ""); e != nil {
		return 0, nil, e
	}
	var ds []*Droplet
	if len(parts) == 3 {
		id, _ := strconv.Atoi(parts[1])
		d := s.droplets[id]
		if d == nil || d.deleted {
			return 0, nil, notFound()
		}
		ds = append(ds, d)
	} else {
		if tag == "" {
			return 0, nil, unprocessable("tag_name is required")
		}
		for _, id := range s.order {
			if d := s.droplets[id]; !d.deleted && slices.Contains(d.Tags, tag) {
				ds = append(ds, d)
			}
		}
	}
	var actions []map[string]any
	for _, d := range ds {
		switch kind {
		case "power_off", "shutdown":
			if d.Status == "off" && len(parts) == 3 {
				return 0, nil, unprocessable("Droplet is already powered off.")
			}
			s.powerOff(d)
		case "power_on":
			if d.Status != "off" {
				if len(parts) == 3 {
					return 0, nil, unprocessable("Droplet is already powered on.")
				}
				continue
			}
			var pubs []string
			for _, k := range s.keys {
				if slices.Contains(d.SSHKeys, k.ID) {
					pubs = append(pubs, k.PublicKey)
				}
			}
			if err := s.boot(d, pubs); err != nil {
				return 0, nil, &apiError{http.StatusInternalServerError, "server_error", err.Error()}
			}
			d.Status = "new"
		default:
			return 0, nil, unprocessable("fakedo does not do action " + kind)
		}
		s.seq++
		actions = append(actions, map[string]any{"id": s.seq, "status": "in-progress", "type": kind, "resource_id": d.ID, "resource_type": "droplet"})
	}
	if len(parts) == 3 {
		return http.StatusCreated, map[string]any{"action": actions[0]}, nil
	}
	return http.StatusCreated, map[string]any{"actions": actions}, nil
}

// fingerprint is the MD5 fingerprint DigitalOcean shows for a public key.
func fingerprint(pub string) string {
	f := strings.Fields(pub)
	if len(f) < 2 {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil {
		return ""
	}
	sum := md5.Sum(raw)
	var hexes []string
	for _, b := range sum {
		hexes = append(hexes, fmt.Sprintf("%02x", b))
	}
	return strings.Join(hexes, ":")
}

func keyJSON(k sshKey) map[string]any {
	return map[string]any{"id": k.ID, "name": k.Name, "fingerprint": k.Print, "public_key": k.PublicKey}
}

func (s *Server) routeKeys(r *http.Request, parts []string) (int, any, *apiError) {
	if e := s.injected("keys", ""); e != nil {
		return 0, nil, e
	}
	switch {
	case r.Method == http.MethodGet && len(parts) == 2:
		out := []map[string]any{}
		for _, k := range s.keys {
			out = append(out, keyJSON(k))
		}
		return 200, list("ssh_keys", out, len(out)), nil
	case r.Method == http.MethodPost && len(parts) == 2:
		var req struct {
			Name      string `json:"name"`
			PublicKey string `json:"public_key"`
		}
		if e := decode(r, &req); e != nil {
			return 0, nil, e
		}
		fp := fingerprint(req.PublicKey)
		if fp == "" {
			return 0, nil, unprocessable("Key invalid, key should be of the format `type key [comment]`")
		}
		if slices.ContainsFunc(s.keys, func(k sshKey) bool { return k.Print == fp }) {
			return 0, nil, unprocessable("SSH Key is already in use on your account")
		}
		s.seq++
		k := sshKey{ID: s.seq, Name: req.Name, PublicKey: strings.TrimSpace(req.PublicKey), Print: fp}
		s.keys = append(s.keys, k)
		return http.StatusCreated, map[string]any{"ssh_key": keyJSON(k)}, nil
	case r.Method == http.MethodDelete && len(parts) == 3:
		i := slices.IndexFunc(s.keys, func(k sshKey) bool { return strconv.Itoa(k.ID) == parts[2] || k.Print == parts[2] })
		if i < 0 {
			return 0, nil, notFound()
		}
		s.keys = slices.Delete(s.keys, i, i+1)
		return http.StatusNoContent, nil, nil
	}
	return 0, nil, notFound()
}

func (s *Server) routeFirewalls(r *http.Request, parts []string) (int, any, *apiError) {
	if e := s.injected("firewalls", ""); e != nil {
		return 0, nil, e
	}
	fwJSON := func(fw *Firewall) map[string]any {
		return map[string]any{"id": fw.ID, "name": fw.Name, "status": "succeeded", "tags": fw.Tags,
			"inbound_rules": fw.Inbound, "droplet_ids": []int{}, "pending_changes": []any{}}
	}
	switch {
	case r.Method == http.MethodGet && len(parts) == 1:
		out := []map[string]any{}
		for _, fw := range s.firewalls {
			out = append(out, fwJSON(fw))
		}
		return 200, list("firewalls", out, len(out)), nil
	case r.Method == http.MethodPost && len(parts) == 1:
		var req struct {
			Name     string           `json:"name"`
			Inbound  []map[string]any `json:"inbound_rules"`
			Outbound []map[string]any `json:"outbound_rules"`
			Tags     []string         `json:"tags"`
		}
		if e := decode(r, &req); e != nil {
			return 0, nil, e
		}
		if req.Name == "" || len(req.Inbound) == 0 && len(req.Outbound) == 0 {
			return 0, nil, unprocessable("name and at least one rule are required")
		}
		for _, rule := range req.Inbound {
			if p, _ := rule["ports"].(string); p != "" && p != "all" && !validPorts(p) {
				return 0, nil, unprocessable("invalid ports " + p)
			}
		}
		s.seq++
		fw := &Firewall{ID: fmt.Sprintf("fb6045f1-cf1d-4ca3-bfac-%012d", s.seq), Name: req.Name, Tags: req.Tags, Inbound: req.Inbound}
		s.firewalls = append(s.firewalls, fw)
		return http.StatusAccepted, map[string]any{"firewall": fwJSON(fw)}, nil
	case r.Method == http.MethodDelete && len(parts) == 2:
		i := slices.IndexFunc(s.firewalls, func(fw *Firewall) bool { return fw.ID == parts[1] })
		if i < 0 {
			return 0, nil, notFound()
		}
		s.firewalls = slices.Delete(s.firewalls, i, i+1)
		return http.StatusNoContent, nil, nil
	}
	return 0, nil, notFound()
}

// validPorts is "N" or "N-M" within 1-65535.
func validPorts(p string) bool {
	a, b, isRange := strings.Cut(p, "-")
	from, err1 := strconv.Atoi(a)
	to, err2 := from, error(nil)
	if isRange {
		to, err2 = strconv.Atoi(b)
	}
	return err1 == nil && err2 == nil && from >= 1 && to <= 65535 && from <= to
}
