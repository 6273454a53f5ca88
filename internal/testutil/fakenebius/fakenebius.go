// Package fakenebius is a fake of Nebius AI Cloud's gRPC API at the wire level, for tests: a real gRPC server
// (google.golang.org/grpc, a test-only dependency) over TLS whose messages are read and written by the field
// numbers of Nebius's public protos (nebius/api), reached by stix's own gRPC client through
// STIX_NEBIUS_ENDPOINT. It serves nebius.compute.v1.InstanceService and DiskService (Create, Get, List,
// Delete, Start, Stop), nebius.common.v1.OperationService/Get (operations finish on their first Get),
// nebius.vpc.v1.SubnetService/List, nebius.iam.v1.ProjectService/List (one project per region, as Nebius makes
// them) and TokenExchangeService/Exchange (a service account's RS256 JWT for a token). Errors are gRPC statuses
// with Nebius's ServiceError details (QuotaFailure, NotEnoughResources, ResourceNotFound, BadRequest) in
// grpc-status-details-bin, or, for an operation that fails, in the operation's status.
//
// Every instance is a real sshd host in a network namespace of its own (package sshhost) that accepts the SSH
// keys of its cloud-init user data; stopping an instance kills its host's processes and keeps its home (its
// boot disk), starting it boots a host on that home again.
package fakenebius

import (
	"context"
	"crypto/rsa"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/stix-run/stix/internal/testutil/sshhost"
)

// Token is the IAM token the server accepts unless the test sets others (SetTokens).
const Token = "ne1fakenebiusiamtoken"

// Tenant is the tenant whose projects the server lists.
const Tenant = "tenant-e00fake"

// Preset is an instance type the fake offers: a platform's preset, in some regions.
type Preset struct {
	Platform, Preset string
	Regions          []string
}

// Fault is an error the fake answers a call with, as Nebius does: a gRPC code and message, and a ServiceError
// detail (Kind: quota_failure, not_enough_resources, resource_not_found, bad_request; none when empty). Async
// makes the call answer an operation that fails with it (capacity is found out so), the resource it made left
// in state ERROR.
type Fault struct {
	Code    codes.Code
	Message string
	Kind    string
	Async   bool
}

// NotEnoughResources is Nebius's answer when a region has no capacity for an instance: its Create operation
// fails.
func NotEnoughResources(platform string) Fault {
	return Fault{Code: codes.ResourceExhausted, Kind: "not_enough_resources", Async: true,
		Message: "Not enough resources to create the instance: platform " + platform + " has no free capacity in the region"}
}

// Server is the fake Nebius API. Methods are safe to call while it serves.
type Server struct {
	// URL is the endpoint of every service (https://IP:PORT): set STIX_NEBIUS_ENDPOINT to it. CAFile holds its
	// TLS certificate, for SSL_CERT_FILE.
	URL, CAFile string
	// NewHost starts the sshd host behind an instance on a home (empty: a new one);
	// sshhost.StartInNetnsWithHome by default.
	NewHost func(t testing.TB, home string) *sshhost.Host

	t         testing.TB
	mu        sync.Mutex
	tokens    []string
	sa        map[string]*rsa.PublicKey // service account keys by key id
	regions   []string
	presets   []Preset
	families  []string
	quota     map[string]int // instances per region
	faults    []fault
	calls     []string
	seq       int
	instances []*Instance
	disks     []*Disk
	ops       map[string]*op
}

type fault struct {
	op, region string
	f          Fault
	times      int // how many calls it fails; 0: every call
}

// Instance is one instance the fake runs.
type Instance struct {
	ID, Name, Project, Region, Platform, Preset, DiskID, UserData string
	Labels                                                        map[string]string
	Preemptible                                                   bool
	// RecoveryFail is recovery policy FAIL: an instance whose OS powers it off is STOPPED; under RECOVER Nebius
	// starts it again.
	RecoveryFail bool
	// State is CREATING, STARTING, RUNNING, STOPPED or ERROR; a deleted instance is no longer listed.
	State string
	// Host is the sshd behind the instance while it runs.
	Host    *sshhost.Host
	keys    []string
	home    string
	deleted bool
}

// Disk is one disk the fake keeps.
type Disk struct {
	ID, Name, Project, Family, State string
	SizeGiB                          int64
	Labels                           map[string]string
	deleted                          bool
}

// op is an operation: done on its first Get; err is its failure.
type op struct {
	id, desc, resource string
	err                *rpcstatus.Status
}

// New starts the fake with a project per region and the presets it offers, closed when the test ends. It
// listens on the netns bridge, so that the instances reach it as Nebius's reach the API.
func New(t testing.TB, regions []string, presets ...Preset) *Server {
	s := &Server{t: t, tokens: []string{Token}, sa: map[string]*rsa.PublicKey{}, regions: regions, presets: presets,
		families: []string{"ubuntu22.04-cuda12", "ubuntu22.04-driverless", "ubuntu24.04-cuda12"},
		quota:    map[string]int{}, ops: map[string]*op{}, NewHost: sshhost.StartInNetnsWithHome}
	bridge := sshhost.BridgeIP(t)
	crt, pemData := certificate(t, bridge)
	s.CAFile = filepath.Join(t.TempDir(), "fakenebius-ca.pem")
	if err := os.WriteFile(s.CAFile, pemData, 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(bridge, "0"))
	if err != nil {
		t.Fatalf("fakenebius: listen: %v", err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{crt}})),
		grpc.ForceServerCodec(rawCodec{}), grpc.UnknownServiceHandler(s.handle))
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Stop()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, in := range s.instances {
			if in.Host != nil {
				in.Host.KillAll()
			}
		}
	})
	s.URL = "https://" + ln.Addr().String()
	return s
}

// Env is the environment that sends stix to the fake with the IAM token (NEBIUS_IAM_TOKEN).
func (s *Server) Env() []string {
	return []string{"STIX_NEBIUS_ENDPOINT=" + s.URL, "SSL_CERT_FILE=" + s.CAFile, "NEBIUS_IAM_TOKEN=" + Token}
}

// Project is the id of the region's project.
func Project(region string) string { return "project-e00" + strings.ReplaceAll(region, "-", "") }

// SetTokens replaces the tokens the server accepts: a token revoked.
func (s *Server) SetTokens(tokens ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = tokens
}

// AddServiceAccountKey lets the token exchange take JWTs signed by key, with key id kid.
func (s *Server) AddServiceAccountKey(kid string, key *rsa.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sa[kid] = key
}

// SetQuota caps the instances of a region (no cap at first).
func (s *Server) SetQuota(region string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.quota[region] = n
}

// Fail makes every later call of op ("instance.create", "disk.create", "instance.delete", "instance.list",
// "instance.stop", "instance.start", "project.list", "subnet.list", ...) in region (anywhere when empty) fail
// with f.
func (s *Server) Fail(op, region string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{op: op, region: region, f: f})
}

// FailTimes makes the next n calls of op in region fail with f, as Fail does.
func (s *Server) FailTimes(op, region string, n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{op: op, region: region, f: f, times: n})
}

// Heal drops every fault Fail scripted.
func (s *Server) Heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Calls returns "op region" for every call so far.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Instances returns a copy of every instance not deleted, in creation order.
func (s *Server) Instances() []Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Instance
	for _, in := range s.instances {
		if !in.deleted {
			out = append(out, *in)
		}
	}
	return out
}

// Disks returns a copy of every disk not deleted.
func (s *Server) Disks() []Disk {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Disk
	for _, d := range s.disks {
		if !d.deleted {
			out = append(out, *d)
		}
	}
	return out
}

// Live counts what is left: instances and disks not deleted.
func (s *Server) Live() (instances, disks int) { return len(s.Instances()), len(s.Disks()) }

// Preempt stops a preemptible instance as Nebius takes it back.
func (s *Server) Preempt(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range s.instances {
		if in.ID == id {
			s.powerOff(in)
		}
	}
}

// errorOf is the status of a fault, its ServiceError in the details.
func errorOf(f Fault) *rpcstatus.Status {
	st := &rpcstatus.Status{Code: int32(f.Code), Message: f.Message}
	if f.Kind != "" {
		st.Details = []*anypb.Any{{TypeUrl: "type.googleapis.com/nebius.common.v1.ServiceError", Value: serviceError(f)}}
	}
	return st
}

// serviceError encodes nebius.common.v1.ServiceError: service 1, code 2, the detail by its field number.
func serviceError(f Fault) []byte {
	b := m(nil).str(1, "compute")
	switch f.Kind {
	case "quota_failure": // violations 1: quota 1, message 2, limit 3, requested 4
		b = b.str(2, "QuotaFailure").sub(141, m(nil).sub(1, m(nil).str(1, "compute.instance.count").str(2, f.Message).str(3, "0").str(4, "1")))
	case "not_enough_resources": // violations 1: resource_type 1, message 2, requested 3
		b = b.str(2, "NotEnoughResources").sub(142, m(nil).sub(1, m(nil).str(1, "compute.instance").str(2, f.Message).str(3, "1")))
	case "resource_not_found":
		b = b.str(2, "NotFound").sub(111, m(nil).str(1, f.Message))
	case "bad_request": // violations 1: field 1, message 2
		b = b.str(2, "BadRequest").sub(100, m(nil).sub(1, m(nil).str(1, "spec").str(2, f.Message)))
	case "permission_denied":
		b = b.str(2, "PermissionDenied").sub(120, m(nil))
	}
	return b
}

// handle serves every method: the raw request in, the raw answer out.
func (s *Server) handle(_ any, stream grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(stream)
	var req []byte
	if err := stream.RecvMsg(&req); err != nil {
		return err
	}
	out, st := s.serve(stream.Context(), strings.TrimPrefix(method, "/"), req)
	if st != nil {
		return status.ErrorProto(st)
	}
	return stream.SendMsg(&out)
}

func (s *Server) authorized(ctx context.Context) bool {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		if tok, ok := strings.CutPrefix(v, "Bearer "); ok && slices.Contains(s.tokens, tok) {
			return true
		}
	}
	return false
}

// injected returns the fault scripted for op in region, if any, and records the call; the caller holds mu.
func (s *Server) injected(op, region string) *Fault {
	s.calls = append(s.calls, strings.TrimSpace(op+" "+region))
	for i, f := range s.faults {
		if f.op == op && (f.region == "" || f.region == region) && f.times >= 0 {
			if f.times > 0 {
				if s.faults[i].times--; s.faults[i].times == 0 {
					s.faults[i].times = -1 // spent
				}
			}
			return &f.f
		}
	}
	return nil
}

func grpcErr(code codes.Code, kind, format string, args ...any) *rpcstatus.Status {
	return errorOf(Fault{Code: code, Kind: kind, Message: fmt.Sprintf(format, args...)})
}

// regionOf is the region of a project ("" when it is none of the fake's).
func (s *Server) regionOf(project string) string {
	for _, r := range s.regions {
		if Project(r) == project {
			return r
		}
	}
	return ""
}

func (s *Server) newID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s-e00fake%06d", prefix, s.seq)
}

// operation records an operation on resource, failed with st when not nil, and encodes it, not done.
func (s *Server) operation(desc, resource string, st *rpcstatus.Status) []byte {
	o := &op{id: s.newID("computeoperation"), desc: desc, resource: resource, err: st}
	s.ops[o.id] = o
	return m(nil).str(1, o.id).str(2, desc).str(7, resource)
}
