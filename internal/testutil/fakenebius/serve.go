package fakenebius

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"

	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
)

// serve answers one call.
func (s *Server) serve(ctx context.Context, method string, req []byte) ([]byte, *rpcstatus.Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if method == "nebius.iam.v1.TokenExchangeService/Exchange" {
		return s.exchange(req)
	}
	if !s.authorized(ctx) {
		return nil, grpcErr(codes.Unauthenticated, "", "invalid or expired IAM token")
	}
	switch method {
	case "nebius.iam.v1.ProfileService/Get": // a user's profile, with the tenant
		s.calls = append(s.calls, "profile.get")
		return m(nil).sub(1, m(nil).str(1, "useraccount-e00fake").sub(5, m(nil).str(1, Tenant))), nil
	case "nebius.iam.v1.ProjectService/List":
		if f := s.injected("project.list", ""); f != nil {
			return nil, errorOf(*f)
		}
		if str(req, 1) != Tenant {
			return nil, grpcErr(codes.PermissionDenied, "permission_denied", "permission denied for tenant %s", str(req, 1))
		}
		out := m(nil)
		for _, r := range s.regions {
			out = out.sub(1, m(nil).sub(1, m(nil).str(1, Project(r)).str(2, Tenant).str(3, "default-project-"+r)).
				sub(2, m(nil).str(1, r)).sub(3, m(nil).str(4, r)))
		}
		return out, nil
	case "nebius.vpc.v1.SubnetService/List":
		r := s.regionOf(str(req, 1))
		if f := s.injected("subnet.list", r); f != nil {
			return nil, errorOf(*f)
		}
		if r == "" {
			return nil, grpcErr(codes.NotFound, "resource_not_found", "project %s not found", str(req, 1))
		}
		return m(nil).sub(1, m(nil).sub(1, m(nil).str(1, "vpcsubnet-e00"+strings.ReplaceAll(r, "-", "")).str(2, str(req, 1)).str(3, "default-subnet"))), nil
	case "nebius.common.v1.OperationService/Get":
		o := s.ops[str(req, 1)]
		if o == nil {
			return nil, grpcErr(codes.NotFound, "resource_not_found", "operation %s not found", str(req, 1))
		}
		st := m(nil)
		if o.err != nil {
			st = st.int(1, int64(o.err.Code)).str(2, o.err.Message)
			for _, d := range o.err.Details {
				st = st.sub(3, m(nil).str(1, d.TypeUrl).sub(2, d.Value))
			}
		}
		return m(nil).str(1, o.id).str(2, o.desc).str(7, o.resource).sub(10, st), nil
	case "nebius.compute.v1.DiskService/Create":
		return s.createDisk(req)
	case "nebius.compute.v1.DiskService/Get":
		d := s.disk(str(req, 1))
		if d == nil {
			return nil, grpcErr(codes.NotFound, "resource_not_found", "disk %s not found", str(req, 1))
		}
		out := diskMsg(d)
		if d.State == "CREATING" {
			d.State = "READY"
		}
		return out, nil
	case "nebius.compute.v1.DiskService/List":
		out := m(nil)
		for _, d := range s.disks {
			if !d.deleted && d.Project == str(req, 1) {
				out = out.sub(1, diskMsg(d))
			}
		}
		return out, nil
	case "nebius.compute.v1.DiskService/Delete":
		d := s.disk(str(req, 1))
		if f := s.injected("disk.delete", ""); f != nil {
			return nil, errorOf(*f)
		}
		if d == nil {
			return nil, grpcErr(codes.NotFound, "resource_not_found", "disk %s not found", str(req, 1))
		}
		for _, in := range s.instances {
			if !in.deleted && in.DiskID == d.ID {
				return nil, grpcErr(codes.FailedPrecondition, "", "disk %s is attached to instance %s", d.ID, in.ID)
			}
		}
		d.deleted = true
		return s.operation("delete disk", d.ID, nil), nil
	case "nebius.compute.v1.InstanceService/Create":
		return s.createInstance(req)
	case "nebius.compute.v1.InstanceService/List":
		if f := s.injected("instance.list", s.regionOf(str(req, 1))); f != nil {
			return nil, errorOf(*f)
		}
		out := m(nil)
		for _, in := range s.instances {
			if !in.deleted && in.Project == str(req, 1) {
				s.observePowerOff(in)
				out = out.sub(1, instanceMsg(in))
				if in.State == "STARTING" { // a booting instance is shown so once
					in.State = "RUNNING"
				}
			}
		}
		return out, nil
	case "nebius.compute.v1.InstanceService/Get":
		in := s.instance(str(req, 1))
		if in == nil {
			return nil, grpcErr(codes.NotFound, "resource_not_found", "instance %s not found", str(req, 1))
		}
		s.observePowerOff(in)
		return instanceMsg(in), nil
	case "nebius.compute.v1.InstanceService/Delete", "nebius.compute.v1.InstanceService/Stop", "nebius.compute.v1.InstanceService/Start":
		return s.act(method[strings.LastIndex(method, "/")+1:], str(req, 1))
	}
	return nil, grpcErr(codes.Unimplemented, "", "unknown method %s (fakenebius)", method)
}

func (s *Server) disk(id string) *Disk {
	for _, d := range s.disks {
		if d.ID == id && !d.deleted {
			return d
		}
	}
	return nil
}

func (s *Server) instance(id string) *Instance {
	for _, in := range s.instances {
		if in.ID == id && !in.deleted {
			return in
		}
	}
	return nil
}

func labels(md []byte) map[string]string {
	out := map[string]string{}
	for _, e := range get(md, 7) {
		out[str(e.bytes, 1)] = str(e.bytes, 2)
	}
	return out
}

func metaMsg(id, project, name string, labels map[string]string) m {
	b := m(nil).str(1, id).str(2, project).str(3, name)
	for k, v := range labels {
		b = b.sub(7, m(nil).str(1, k).str(2, v))
	}
	return b
}

var diskStates = map[string]int64{"CREATING": 1, "READY": 2, "ERROR": 5}

func diskMsg(d *Disk) m {
	return m(nil).sub(1, metaMsg(d.ID, d.Project, d.Name, d.Labels)).
		sub(2, m(nil).int(4, d.SizeGiB).int(6, 1).sub(10, m(nil).str(1, d.Family))).
		sub(3, m(nil).int(1, diskStates[d.State]))
}

var instanceStates = map[string]int64{"CREATING": 1, "STARTING": 3, "RUNNING": 4, "STOPPING": 5, "STOPPED": 6, "DELETING": 7, "ERROR": 8}

func instanceMsg(in *Instance) m {
	spec := m(nil).sub(2, m(nil).str(1, in.Platform).str(2, in.Preset)).
		sub(5, m(nil).int(1, 2).sub(2, m(nil).str(1, in.DiskID)))
	if in.Preemptible {
		spec = spec.sub(19, m(nil).int(1, 1).int(2, 1))
	}
	st := m(nil).int(1, instanceStates[in.State])
	if in.Host != nil {
		st = st.sub(2, m(nil).str(2, "eth0").sub(3, m(nil).str(1, in.Host.Host+"/32")).sub(4, m(nil).str(1, in.Host.Host+"/32")))
	}
	return m(nil).sub(1, metaMsg(in.ID, in.Project, in.Name, in.Labels)).sub(2, spec).sub(3, st)
}

func (s *Server) createDisk(req []byte) ([]byte, *rpcstatus.Status) {
	md := get(req, 1)
	if len(md) == 0 {
		return nil, grpcErr(codes.InvalidArgument, "bad_request", "metadata is required")
	}
	project := str(md[0].bytes, 2)
	region := s.regionOf(project)
	if f := s.injected("disk.create", region); f != nil && !f.Async {
		return nil, errorOf(*f)
	}
	spec := get(req, 2)
	switch {
	case region == "":
		return nil, grpcErr(codes.NotFound, "resource_not_found", "project %s not found", project)
	case len(spec) == 0 || num(spec[0].bytes, 4) <= 0 || num(spec[0].bytes, 6) == 0:
		return nil, grpcErr(codes.InvalidArgument, "bad_request", "spec.size and spec.type are required")
	}
	family := str(spec[0].bytes, 10, 1)
	if family == "" || !slices.Contains(s.families, family) {
		return nil, grpcErr(codes.NotFound, "resource_not_found", "image family %q not found", family)
	}
	d := &Disk{ID: s.newID("computedisk"), Name: str(md[0].bytes, 3), Project: project, Family: family, State: "CREATING",
		SizeGiB: num(spec[0].bytes, 4), Labels: labels(md[0].bytes)}
	s.disks = append(s.disks, d)
	return s.operation("create disk", d.ID, nil), nil
}

func (s *Server) createInstance(req []byte) ([]byte, *rpcstatus.Status) {
	md := get(req, 1)
	spec := get(req, 2)
	if len(md) == 0 || len(spec) == 0 {
		return nil, grpcErr(codes.InvalidArgument, "bad_request", "metadata and spec are required")
	}
	project := str(md[0].bytes, 2)
	region := s.regionOf(project)
	sp := spec[0].bytes
	platform, preset := str(sp, 2, 1), str(sp, 2, 2)
	f := s.injected("instance.create", region)
	if f != nil && !f.Async {
		return nil, errorOf(*f)
	}
	live := 0
	for _, in := range s.instances {
		if !in.deleted && in.Region == region {
			live++
		}
	}
	disk := s.disk(str(sp, 5, 2, 1))
	switch {
	case region == "":
		return nil, grpcErr(codes.NotFound, "resource_not_found", "project %s not found", project)
	case !slices.ContainsFunc(s.presets, func(p Preset) bool { return p.Platform == platform && p.Preset == preset }):
		return nil, grpcErr(codes.InvalidArgument, "bad_request", "platform %q has no preset %q", platform, preset)
	case !slices.ContainsFunc(s.presets, func(p Preset) bool {
		return p.Platform == platform && p.Preset == preset && slices.Contains(p.Regions, region)
	}):
		return nil, grpcErr(codes.InvalidArgument, "bad_request", "platform %q is not available in region %s", platform, region)
	case s.quota[region] > 0 && live >= s.quota[region] || s.quota[region] < 0:
		return nil, grpcErr(codes.ResourceExhausted, "quota_failure", "quota exceeded: compute.instance.count limit %d in %s", max(s.quota[region], 0), region)
	case disk == nil || disk.State != "READY":
		return nil, grpcErr(codes.FailedPrecondition, "", "boot disk %q is not ready", str(sp, 5, 2, 1))
	case len(get(sp, 4)) == 0 || str(sp, 4, 1) == "":
		return nil, grpcErr(codes.InvalidArgument, "bad_request", "spec.network_interfaces[0].subnet_id is required")
	}
	for _, in := range s.instances {
		if !in.deleted && in.DiskID == disk.ID {
			return nil, grpcErr(codes.FailedPrecondition, "", "disk %s is attached to instance %s", disk.ID, in.ID)
		}
	}
	in := &Instance{ID: s.newID("computeinstance"), Name: str(md[0].bytes, 3), Project: project, Region: region,
		Platform: platform, Preset: preset, DiskID: disk.ID, UserData: str(sp, 8), Labels: labels(md[0].bytes),
		Preemptible: has(sp, 19), RecoveryFail: num(sp, 15) == 1, State: "STARTING", keys: authorizedKeys(str(sp, 8))}
	s.instances = append(s.instances, in)
	if f != nil { // capacity found out while creating: the operation fails, the instance stays in ERROR
		in.State = "ERROR"
		return s.operation("create instance", in.ID, errorOf(*f)), nil
	}
	if err := s.boot(in); err != nil {
		return nil, grpcErr(codes.Internal, "", "%v", err)
	}
	return s.operation("create instance", in.ID, nil), nil
}

// authorizedKeys reads the ssh_authorized_keys of cloud-init user data.
func authorizedKeys(userData string) []string {
	var out []string
	in := false
	for _, line := range strings.Split(userData, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "ssh_authorized_keys:"):
			in = true
		case in && strings.HasPrefix(t, "- "):
			out = append(out, strings.Trim(strings.TrimSpace(t[2:]), `"'`))
		default:
			in = false
		}
	}
	return out
}

// boot starts the instance's sshd host on its home, accepting the keys of its user data.
func (s *Server) boot(in *Instance) error {
	h := s.NewHost(s.t, in.home)
	if in.home == "" {
		in.home = h.Home
	}
	in.Host = h
	for _, k := range in.keys {
		if err := h.Authorize(k); err != nil {
			return err
		}
	}
	return nil
}

// observePowerOff does what Nebius does when an instance's OS powered it off (its host's shutdown shim ran):
// under recovery policy FAIL the instance is STOPPED, its disk kept; under RECOVER it is started again.
func (s *Server) observePowerOff(in *Instance) {
	if in.Host == nil || !in.Host.PoweredOff() || in.State != "RUNNING" {
		return
	}
	s.powerOff(in)
	if !in.RecoveryFail {
		if err := s.boot(in); err == nil {
			in.State = "STARTING"
		}
	}
}

// powerOff kills the instance's host; its home stays.
func (s *Server) powerOff(in *Instance) {
	if in.Host != nil {
		in.Host.KillAll()
		in.Host = nil
	}
	in.State = "STOPPED"
}

// act deletes, stops or starts an instance.
func (s *Server) act(verb, id string) ([]byte, *rpcstatus.Status) {
	in := s.instance(id)
	region := ""
	if in != nil {
		region = in.Region
	}
	if f := s.injected("instance."+strings.ToLower(verb), region); f != nil {
		return nil, errorOf(*f)
	}
	if in == nil {
		return nil, grpcErr(codes.NotFound, "resource_not_found", "instance %s not found", id)
	}
	switch verb {
	case "Delete":
		s.powerOff(in)
		in.deleted = true
	case "Stop":
		s.powerOff(in)
	case "Start":
		if in.State != "STOPPED" {
			return nil, grpcErr(codes.FailedPrecondition, "", "instance %s is %s, not STOPPED", id, in.State)
		}
		if err := s.boot(in); err != nil {
			return nil, grpcErr(codes.Internal, "", "%v", err)
		}
		in.State = "STARTING"
	}
	return s.operation(strings.ToLower(verb)+" instance", in.ID, nil), nil
}

// exchange trades a service account's JWT (RS256, signed with a key of AddServiceAccountKey) for a token.
func (s *Server) exchange(req []byte) ([]byte, *rpcstatus.Status) {
	s.calls = append(s.calls, "token.exchange")
	jwt := str(req, 3)
	if str(req, 1) != "urn:ietf:params:oauth:grant-type:token-exchange" || str(req, 4) != "urn:ietf:params:oauth:token-type:jwt" {
		return nil, grpcErr(codes.InvalidArgument, "bad_request", "unsupported grant_type or subject_token_type")
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, grpcErr(codes.Unauthenticated, "", "subject_token is not a JWT")
	}
	var head struct {
		Alg, Kid string
	}
	raw, _ := base64.RawURLEncoding.DecodeString(parts[0])
	_ = json.Unmarshal(raw, &head)
	key := s.sa[head.Kid]
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if head.Alg != "RS256" || key == nil || rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig) != nil {
		return nil, grpcErr(codes.Unauthenticated, "", "invalid subject_token: unknown key %q or bad signature", head.Kid)
	}
	tok := s.newID("ne1satoken")
	s.tokens = append(s.tokens, tok)
	return m(nil).str(1, tok).str(2, "urn:ietf:params:oauth:token-type:access_token").str(3, "Bearer").int(4, 43200), nil
}
