package fakeazure

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// resource serves GROUP/providers/NAMESPACE/TYPE/NAME[/sub...].
func (s *Server) resource(w http.ResponseWriter, r *http.Request, group, typ, name string, sub []string) {
	if _, ok := s.groups[strings.ToLower(group)]; !ok {
		armError(w, 404, "ResourceGroupNotFound", "Resource group '"+group+"' could not be found.")
		return
	}
	id := groupID(group) + "/providers/" + typ + "/" + name
	key := strings.ToLower(id)
	res, exists := s.res[key]
	notFound := func() {
		armError(w, 404, "ResourceNotFound", fmt.Sprintf("The Resource '%s/%s' under resource group '%s' was not found. "+
			"For more details please go to https://aka.ms/ARMResourceNotFoundFix", typ, name, group))
	}
	isVM := strings.EqualFold(typ, "Microsoft.Compute/virtualMachines")
	switch {
	case strings.EqualFold(typ, "Microsoft.Authorization/roleAssignments") && len(sub) == 0:
		s.roleAssignment(w, r, groupID(group), name)
	case strings.EqualFold(typ, "Microsoft.ManagedIdentity/userAssignedIdentities") && len(sub) == 0 && r.Method != http.MethodGet:
		s.identity(w, r, res, id, group, name)
	case len(sub) == 1 && isVM && r.Method == http.MethodGet && sub[0] == "instanceView":
		if !exists {
			notFound()
			return
		}
		writeJSON(w, 200, instanceView(res))
	case len(sub) == 1 && isVM && r.Method == http.MethodPost && (sub[0] == "deallocate" || sub[0] == "start"):
		if !exists {
			notFound()
			return
		}
		v := res.vm
		if sub[0] == "deallocate" {
			s.async(w, 202, nil, &op{done: func() {
				s.halt(v)
				v.Power = "deallocated"
			}})
			return
		}
		if v.Host == nil {
			if err := s.boot(v); err != nil {
				armError(w, 500, "InternalServerError", err.Error())
				return
			}
		}
		s.async(w, 202, nil, &op{})
	case len(sub) > 0:
		armError(w, 404, "InvalidResourceType", "The resource type '"+typ+"/"+strings.Join(sub, "/")+"' could not be found.")
	case r.Method == http.MethodGet:
		if !exists {
			notFound()
			return
		}
		writeJSON(w, 200, res.body)
	case r.Method == http.MethodDelete:
		if !exists {
			w.WriteHeader(204)
			return
		}
		s.async(w, 202, nil, &op{done: func() {
			if res.vm != nil {
				s.halt(res.vm)
			}
			delete(s.res, key)
		}})
	case r.Method == http.MethodPut:
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
		body["id"], body["name"], body["type"] = id, name, typ
		props, _ := body["properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
			body["properties"] = props
		}
		props["provisioningState"] = "Succeeded"
		res = &resource{id: id, typ: typ, group: group, body: body}
		var o op
		switch strings.ToLower(typ) {
		case "microsoft.network/virtualnetworks":
			subnets, _ := props["subnets"].([]any)
			for _, sn := range subnets {
				if m, ok := sn.(map[string]any); ok {
					m["id"] = id + "/subnets/" + fmt.Sprint(m["name"])
				}
			}
		case "microsoft.network/networkinterfaces":
			cfgs, _ := props["ipConfigurations"].([]any)
			for _, c := range cfgs {
				if m, ok := c.(map[string]any); ok {
					m["id"] = id + "/ipConfigurations/" + fmt.Sprint(m["name"])
					if p, ok := m["properties"].(map[string]any); ok {
						p["privateIPAddress"] = fmt.Sprintf("10.0.0.%d", 4+s.seq%250)
					}
				}
			}
		case "microsoft.compute/virtualmachines":
			if !s.createVM(w, res, loc, &o) {
				return
			}
		}
		s.res[key] = res
		status := 201
		if exists {
			status = 200
		}
		// The first answer shows the resource being made, as ARM's does; the operation and GET show it done.
		first := map[string]any{}
		for k, v := range body {
			first[k] = v
		}
		fp := map[string]any{}
		for k, v := range props {
			fp[k] = v
		}
		fp["provisioningState"] = "Updating"
		if status == 201 {
			fp["provisioningState"] = "Creating"
		}
		first["properties"] = fp
		s.async(w, status, first, &o)
	default:
		armError(w, 405, "MethodNotAllowed", r.Method)
	}
}
