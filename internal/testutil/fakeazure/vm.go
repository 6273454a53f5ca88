package fakeazure

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// str reads a string at a path of nested JSON objects.
func str(m map[string]any, path ...string) string {
	var cur any = m
	for _, p := range path {
		o, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = o[p]
	}
	switch v := cur.(type) {
	case string:
		return v
	case float64:
		return fmt.Sprint(v)
	}
	return ""
}

func obj(m map[string]any, key string) map[string]any {
	o, _ := m[key].(map[string]any)
	return o
}

func first(m map[string]any, key string) map[string]any {
	l, _ := m[key].([]any)
	if len(l) == 0 {
		return nil
	}
	o, _ := l[0].(map[string]any)
	return o
}

// createVM checks a VM's request as Azure does (its size offered in the region, its image, its NIC), records the
// call, and boots its sshd host; a scripted allocation failure fails its operation instead. It writes the error
// and returns false when the request is refused.
func (s *Server) createVM(w http.ResponseWriter, res *resource, region string, o *op) bool {
	b := res.body
	props := obj(b, "properties")
	zone := ""
	if zs, _ := b["zones"].([]any); len(zs) > 0 {
		zone = fmt.Sprint(zs[0])
	}
	size := str(props, "hardwareProfile", "vmSize")
	s.calls = append(s.calls, "vm "+region+"/"+zone)
	img := obj(obj(props, "storageProfile"), "imageReference")
	urn := strings.Join([]string{str(img, "publisher"), str(img, "offer"), str(img, "sku"), str(img, "version")}, ":")
	if id := str(img, "id"); id != "" {
		urn = id
	}
	nic := str(first(obj(props, "networkProfile"), "networkInterfaces"), "id")
	keyData := str(first(obj(obj(obj(props, "osProfile"), "linuxConfiguration"), "ssh"), "publicKeys"), "keyData")
	var identities []string
	for id := range obj(obj(b, "identity"), "userAssignedIdentities") {
		identities = append(identities, strings.ToLower(id))
	}
	missing := ""
	for _, id := range identities {
		if s.res[id] == nil {
			missing = id
		}
	}
	f := s.injected("vm", region, zone)
	switch {
	case len(identities) > 0 && str(b, "identity", "type") != "UserAssigned" && str(b, "identity", "type") != "SystemAssigned, UserAssigned":
		armError(w, 400, "InvalidParameter", "The identity type must include UserAssigned when userAssignedIdentities are given.")
		return false
	case missing != "":
		armError(w, 400, "FailedIdentityOperation", "Identity '"+missing+"' does not exist or is not a user assigned identity.")
		return false
	case f != nil && !slices.Contains([]string{"AllocationFailed", "ZonalAllocationFailed", "OverconstrainedAllocationRequest"}, f.code):
		status := 409
		if f.code == "ImageNotFound" || f.code == "PlatformImageNotFound" {
			status = 404
		}
		armError(w, status, f.code, f.msg)
		return false
	case !slices.Contains(s.Sizes[strings.ToLower(region)], size):
		armError(w, 409, "SkuNotAvailable", fmt.Sprintf("The requested VM size for resource 'Following SKUs have failed "+
			"for Capacity Restrictions: %s' is currently not available in location '%s'. Please try another size or "+
			"deploy to a different location or different zone. See https://aka.ms/azureskunotavailable for details.", size, region))
		return false
	case !s.imageExists(urn):
		armError(w, 404, "ImageNotFound", fmt.Sprintf("The platform image '%s' is not available. Verify that all fields "+
			"in the storage profile are correct. For more details about storage profile information, please refer to "+
			"https://aka.ms/storageprofile", urn))
		return false
	case s.res[strings.ToLower(nic)] == nil:
		armError(w, 400, "InvalidParameter", "Resource '"+nic+"' does not exist or is not a network interface.")
		return false
	}
	v := &VM{Name: str(b, "name"), Group: res.group, Region: region, Zone: zone, Size: size, Image: urn,
		DiskType: str(props, "storageProfile", "osDisk", "managedDisk", "storageAccountType"),
		Priority: str(props, "priority"), EvictionPolicy: str(props, "evictionPolicy"),
		User: str(props, "osProfile", "adminUsername"), key: keyData, nic: nic, identities: identities}
	fmt.Sscan(str(props, "storageProfile", "osDisk", "diskSizeGB"), &v.DiskGB)
	v.Tags = map[string]string{}
	if tags, ok := b["tags"].(map[string]any); ok {
		for k, t := range tags {
			v.Tags[k] = fmt.Sprint(t)
		}
	}
	res.vm = v
	if f != nil {
		props["provisioningState"], v.Power = "Failed", "stopped"
		o.err = f
		return true
	}
	if err := s.boot(v); err != nil {
		armError(w, 500, "InternalServerError", err.Error())
		return false
	}
	return true
}

func (s *Server) imageExists(urn string) bool {
	f := strings.Split(urn, ":")
	for _, im := range s.Images {
		g := strings.Split(im, ":")
		if strings.EqualFold(im, urn) || (len(f) == 4 && len(g) == 4 && strings.EqualFold(strings.Join(f[:3], ":"), strings.Join(g[:3], ":")) &&
			(g[3] == "latest" || strings.EqualFold(f[3], g[3]))) {
			return true
		}
	}
	return false
}

// boot starts the VM's sshd host in the home it had before (a deallocated VM keeps its OS disk), authorizes the
// osProfile's key for the host's user, as the Linux agent does, and gives its NIC and public IP the host's address.
func (s *Server) boot(v *VM) error {
	h := s.NewHost(s.t, v.home)
	if v.home == "" {
		v.home = h.Home
	}
	v.Host, v.Power = h, "running"
	if err := h.Authorize(v.key); err != nil {
		return err
	}
	nic := s.res[strings.ToLower(v.nic)]
	if nic == nil {
		return nil
	}
	cfg := first(obj(nic.body, "properties"), "ipConfigurations")
	p := obj(cfg, "properties")
	if p == nil {
		return nil
	}
	p["privateIPAddress"] = h.Host
	if ip := s.res[strings.ToLower(str(p, "publicIPAddress", "id"))]; ip != nil {
		obj(ip.body, "properties")["ipAddress"] = h.Host
	}
	return nil
}

// instanceView is the VM's instance view: its provisioning and power states.
func instanceView(res *resource) map[string]any {
	v := res.vm
	prov := strings.ToLower(str(res.body, "properties", "provisioningState"))
	return map[string]any{"computerName": str(res.body, "properties", "osProfile", "computerName"),
		"statuses": []map[string]any{
			{"code": "ProvisioningState/" + prov, "level": "Info", "displayStatus": "Provisioning " + prov},
			{"code": "PowerState/" + v.Power, "level": "Info", "displayStatus": "VM " + v.Power}}}
}
