package fakeazure

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tenant, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/oauth2/v2.0/token"); ok {
		s.token(w, r, tenant)
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		armError(w, 400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	principal, known := s.tokens[tok]
	if !ok || !known {
		armError(w, 401, "InvalidAuthenticationToken", "The access token is invalid.")
		return
	}
	if principal != "" && !s.authorized(principal, r.URL.Path) {
		s.refused = append(s.refused, r.Method+" "+r.URL.Path)
		armError(w, 403, "AuthorizationFailed", fmt.Sprintf("The client '%s' with object id '%s' does not have "+
			"authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently "+
			"granted, please refresh your credentials.", principal, principal, r.Method, r.URL.Path))
		return
	}
	// /subscriptions/S/...
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 3 || !strings.EqualFold(parts[0], "subscriptions") {
		armError(w, 404, "InvalidResourceType", "The resource type could not be found in the namespace.")
		return
	}
	if parts[1] != Subscription {
		armError(w, 403, "AuthorizationFailed", fmt.Sprintf("The client '%s' with object id '%s' does not have authorization "+
			"to perform action over scope '/subscriptions/%s' or the scope is invalid.", ClientID, ClientID, parts[1]))
		return
	}
	rest := parts[2:]
	switch {
	case strings.EqualFold(rest[0], "providers") && len(rest) == 3 && rest[1] == "operations":
		s.operation(w, rest[2])
	case strings.EqualFold(rest[0], "resourcegroups") && len(rest) == 1:
		s.listGroups(w, r)
	case strings.EqualFold(rest[0], "resourcegroups") && len(rest) == 2:
		s.group(w, r, rest[1])
	case strings.EqualFold(rest[0], "resourcegroups") && len(rest) == 3 && strings.EqualFold(rest[2], "resources"):
		s.listResources(w, r, rest[1])
	case strings.EqualFold(rest[0], "resourcegroups") && len(rest) >= 6 && strings.EqualFold(rest[2], "providers"):
		s.resource(w, r, rest[1], rest[3]+"/"+rest[4], rest[5], rest[6:])
	default:
		armError(w, 404, "InvalidResourceType", "The resource type '"+strings.Join(rest, "/")+"' could not be found.")
	}
}

// async answers a long-running operation's first response: status with the operation's URLs, as ARM does.
func (s *Server) async(w http.ResponseWriter, status int, body any, o *op) {
	id := s.id()
	s.ops[id] = o
	u := s.URL + "/subscriptions/" + Subscription + "/providers/operations/" + id + "?api-version=2024-07-01"
	w.Header().Set("Azure-AsyncOperation", u)
	w.Header().Set("Location", u)
	w.Header().Set("Retry-After", "0")
	if o.done != nil {
		// Azure carries the operation out whether or not anyone polls it (the head sends and exits).
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			s.mu.Lock()
			defer s.mu.Unlock()
			if o.done != nil {
				o.done()
				o.done = nil
			}
		}()
	}
	if body == nil {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, body)
}

// operation is an Azure-AsyncOperation status: done at its first poll, Succeeded or Failed with its error.
func (s *Server) operation(w http.ResponseWriter, id string) {
	o, ok := s.ops[id]
	if !ok {
		armError(w, 404, "NotFound", "operation "+id+" not found")
		return
	}
	if o.done != nil {
		o.done()
		o.done = nil
	}
	if o.err != nil {
		writeJSON(w, 200, map[string]any{"name": id, "status": "Failed",
			"error": map[string]any{"code": o.err.code, "message": o.err.msg}})
		return
	}
	writeJSON(w, 200, map[string]any{"name": id, "status": "Succeeded"})
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	if f := s.injected("list", "", ""); f != nil {
		armError(w, 403, f.code, f.msg)
		return
	}
	var out []any
	for _, g := range s.groups {
		out = append(out, g)
	}
	writeJSON(w, 200, map[string]any{"value": out})
}

func groupID(name string) string {
	return "/subscriptions/" + Subscription + "/resourceGroups/" + name
}

func (s *Server) group(w http.ResponseWriter, r *http.Request, name string) {
	key := strings.ToLower(name)
	g, exists := s.groups[key]
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if !exists {
			armError(w, 404, "ResourceGroupNotFound", "Resource group '"+name+"' could not be found.")
			return
		}
		writeJSON(w, 200, g)
	case http.MethodPut:
		var body struct {
			Location string            `json:"location"`
			Tags     map[string]string `json:"tags"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Location == "" {
			armError(w, 400, "LocationRequired", "The location property is required for this definition.")
			return
		}
		if f := s.injected("group", body.Location, ""); f != nil {
			armError(w, 409, f.code, f.msg)
			return
		}
		if exists && !strings.EqualFold(g["location"].(string), body.Location) {
			armError(w, 409, "InvalidResourceGroupLocation", fmt.Sprintf("Invalid resource group location '%s'. The "+
				"Resource group already exists in location '%s'.", body.Location, g["location"]))
			return
		}
		g = map[string]any{"id": groupID(name), "name": name, "type": "Microsoft.Resources/resourceGroups",
			"location": body.Location, "tags": body.Tags, "properties": map[string]any{"provisioningState": "Succeeded"}}
		s.groups[key] = g
		status := 201
		if exists {
			status = 200
		}
		writeJSON(w, status, g)
	case http.MethodDelete:
		if !exists {
			armError(w, 404, "ResourceGroupNotFound", "Resource group '"+name+"' could not be found.")
			return
		}
		s.async(w, 202, nil, &op{done: func() {
			for id, r := range s.res {
				if strings.EqualFold(r.group, name) {
					if r.vm != nil {
						s.halt(r.vm)
					}
					delete(s.res, id)
				}
			}
			for id, ra := range s.roles {
				if within(ra.scope, groupID(name)) {
					delete(s.roles, id)
				}
			}
			delete(s.groups, key)
		}})
	default:
		armError(w, 405, "MethodNotAllowed", r.Method)
	}
}

// tagFilter is the one tag filter ARM's resource list takes: tagName eq 'N' and tagValue eq 'V'.
var tagFilter = regexp.MustCompile(`^tagName eq '([^']*)' and tagValue eq '((?:[^']|'')*)'$`)

// listResources is GET /subscriptions/S/resourceGroups/G/resources, with an optional tag $filter.
func (s *Server) listResources(w http.ResponseWriter, r *http.Request, group string) {
	if _, ok := s.groups[strings.ToLower(group)]; !ok {
		armError(w, 404, "ResourceGroupNotFound", "Resource group '"+group+"' could not be found.")
		return
	}
	var name, value string
	if f := r.URL.Query().Get("$filter"); f != "" {
		m := tagFilter.FindStringSubmatch(f)
		if m == nil {
			armError(w, 400, "InvalidFilterInQueryString", "Invalid $filter '"+f+"' specified in the query string.")
			return
		}
		name, value = m[1], strings.ReplaceAll(m[2], "''", "'")
	}
	out := []any{}
	for _, res := range s.res {
		if !strings.EqualFold(res.group, group) {
			continue
		}
		tags, _ := res.body["tags"].(map[string]any)
		if name != "" && fmt.Sprint(tags[name]) != value {
			continue
		}
		out = append(out, map[string]any{"id": res.id, "name": res.body["name"], "type": res.typ,
			"location": res.body["location"], "tags": tags})
	}
	writeJSON(w, 200, map[string]any{"value": out})
}

// Plant makes a resource in an existing group as if a client had made it (a public IP an interrupted launch
// left, another user's resource), with tags.
func (s *Server) Plant(group, typ, name string, tags map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.groups[strings.ToLower(group)]; !ok {
		s.t.Fatalf("fakeazure: no resource group %s", group)
	}
	id := groupID(group) + "/providers/" + typ + "/" + name
	t := map[string]any{}
	for k, v := range tags {
		t[k] = v
	}
	s.res[strings.ToLower(id)] = &resource{id: id, typ: typ, group: group, body: map[string]any{"id": id, "name": name,
		"type": typ, "location": "eastus", "tags": t, "properties": map[string]any{"provisioningState": "Succeeded"}}}
}
