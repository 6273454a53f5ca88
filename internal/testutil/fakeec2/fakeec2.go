// Package fakeec2 is a fake of Amazon EC2's API at the wire level, for tests: the query protocol (a form POST
// with Action=..., XML answers in EC2's 2016-11-15 namespace, errors as <Response><Errors><Error>), reached by
// the real AWS SDK through AWS_ENDPOINT_URL_EC2. Every instance it runs is a real sshd host in a network
// namespace of its own (package sshhost) that accepts the key pair it was launched with, so that a provider
// provisions, connects and deploys on it as on EC2. Tests script EC2's errors (Fail) and spot preemption
// (Preempt).
//
// Each region has a default VPC with one default subnet in each of its zones REGIONa, REGIONb and REGIONc. The
// region of a request is read from its signature's credential scope, the access key from the same place.
package fakeec2

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/testutil/sshhost"
)

// AccessKey is the access key ID the server accepts unless the test sets Server.AccessKeys.
const AccessKey = "AKIAFAKEEC2TEST"

// Server is the fake EC2 endpoint. Its fields are set before the first request; methods are safe to call
// while it serves.
type Server struct {
	// URL is the endpoint: set AWS_ENDPOINT_URL_EC2 to it.
	URL string
	// AccessKeys are the access key IDs it accepts; others get AuthFailure.
	AccessKeys []string
	// Regions are the regions it serves; a request for another gets the error an unknown region's endpoint
	// would not give, but one the test can see: UnauthorizedOperation... (tests keep to these).
	Regions []string
	// Images lists the AMIs that exist, per region.
	Images map[string][]string
	// DescribeLag is how many DescribeInstances calls answer InvalidInstanceID.NotFound for an instance just
	// run, as EC2's eventual consistency does.
	DescribeLag int
	// NewHost starts the sshd host behind an instance, showing home as the user's home directory (a new
	// directory when empty; the one it had when a stopped instance starts again); sshhost.StartInNetnsWithHome
	// by default.
	NewHost func(t testing.TB, home string) *sshhost.Host

	t      testing.TB
	mu     sync.Mutex
	faults []fault
	calls  []string
	seq    int
	keys   map[string]map[string]string // region -> key name -> public key
	sgs    map[string]*group
	insts  map[string]*Instance
	order  []string // instance ids in launch order
	busy   time.Duration
}

type group struct {
	id, name, vpc, region string
	tags                  map[string]string
	rules                 []string
}

// Instance is one instance the fake runs.
type Instance struct {
	ID, Region, Zone, Type, Image, KeyName, SubnetID string
	Groups                                           []string
	LaunchIndex                                      int
	Spot                                             bool
	State                                            string
	ReasonCode, ReasonMessage                        string
	Tags                                             map[string]string
	DiskGB                                           int
	VolumeType                                       string
	// ShutdownBehavior is what a power-off from inside the instance does: "stop" (also when empty) or
	// "terminate".
	ShutdownBehavior string
	// Host is the sshd behind the instance while it runs.
	Host *sshhost.Host
	// pendingReads counts DescribeInstances calls still to answer with the transitional state.
	pendingReads int
	// hiddenReads counts DescribeInstances calls still to answer as if the instance did not exist yet.
	hiddenReads int
	home        string
}

type fault struct {
	action, where, code, msg string
	status                   int
}

// New starts the fake for regions (us-east-1 when none), closed when the test ends.
func New(t testing.TB, regions ...string) *Server {
	if len(regions) == 0 {
		regions = []string{"us-east-1"}
	}
	s := &Server{t: t, Regions: regions, AccessKeys: []string{AccessKey}, Images: map[string][]string{},
		NewHost: sshhost.StartInNetnsWithHome, keys: map[string]map[string]string{}, sgs: map[string]*group{}, insts: map[string]*Instance{}}
	for _, r := range regions {
		s.Images[r] = []string{ImageID(r)}
	}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// ImageID is the AMI the fake has in region by default.
func ImageID(region string) string { return "ami-" + strings.ReplaceAll(region, "-", "") }

// Zones are the zones of a region.
func Zones(region string) []string { return []string{region + "a", region + "b", region + "c"} }

// ZoneIDs are the IDs of a region's zones, in the order of Zones, as SkyPilot's catalog names zones
// (us-east-1 → useast1-az1 ...). They are mapped to the names in reverse order, as an account's mapping is its
// own: useast1-az1 is us-east-1c here.
func ZoneIDs(region string) []string {
	p := strings.ReplaceAll(region, "-", "")
	return []string{p + "-az3", p + "-az2", p + "-az1"}
}

// Fail makes every later call of action (RunInstances ...) in where (a zone or a region; anywhere when empty)
// fail with EC2's error
// code, as EC2 answers it: HTTP 500 for InsufficientInstanceCapacity, 401/403 for credentials, 400 otherwise.
func (s *Server) Fail(action, where, code, message string) {
	status := http.StatusBadRequest
	switch code {
	case "InsufficientInstanceCapacity", "InternalError":
		status = http.StatusInternalServerError
	case "AuthFailure":
		status = http.StatusUnauthorized
	case "UnauthorizedOperation":
		status = http.StatusForbidden
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{action: action, where: where, code: code, msg: message, status: status})
}

// SetAccessKeys replaces the access key IDs the server accepts, while it serves: credentials revoked.
func (s *Server) SetAccessKeys(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.AccessKeys = ids
}

func (s *Server) accepts(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.AccessKeys, id)
}

// ImportKey makes a key pair in region, as a user would have made one before stix ran.
func (s *Server) ImportKey(region, name, publicKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys[region] == nil {
		s.keys[region] = map[string]string{}
	}
	s.keys[region][name] = strings.TrimSpace(publicKey)
}

// Calls returns "Action zone" for every call so far (zone empty when the call has none).
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Instances returns a copy of every instance, in launch order.
func (s *Server) Instances() []Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Instance
	for _, id := range s.order {
		out = append(out, *s.insts[id])
	}
	return out
}

// Live counts what is left that costs or clutters: instances not terminated, security groups, key pairs.
func (s *Server) Live() (instances, groups, keys int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range s.insts {
		if in.State != "terminated" {
			instances++
		}
	}
	for _, k := range s.keys {
		keys += len(k)
	}
	return instances, len(s.sgs), keys
}

// AddInstance adds a running instance with the given tags and no host behind it: someone else's instance in
// the account. It returns its id.
func (s *Server) AddInstance(region, zone string, tags map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := &Instance{ID: s.id("i"), Region: region, Zone: zone, Type: "t3.micro", Image: ImageID(region),
		SubnetID: subnetID(zone), State: "running", Tags: tags}
	s.insts[in.ID] = in
	s.order = append(s.order, in.ID)
	return in.ID
}

// Preempt terminates a spot instance as AWS takes one back: its host stops and it reports
// Server.SpotInstanceTermination.
func (s *Server) Preempt(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.insts[id]
	if in == nil {
		s.t.Fatalf("fakeec2: no instance %s", id)
	}
	s.end(in, "terminated", "Server.SpotInstanceTermination", "Server.SpotInstanceTermination: Spot instance termination")
}

// end stops the instance's host and puts it in state.
func (s *Server) end(in *Instance, state, code, msg string) {
	if in.Host != nil {
		in.Host.KillAll()
		in.Host = nil
	}
	in.State, in.ReasonCode, in.ReasonMessage = state, code, msg
}

var credentialRE = regexp.MustCompile(`Credential=([^/]+)/[^/]+/([^/]+)/`)

// apiError is an EC2 error answer.
type apiError struct {
	status    int
	code, msg string
}

// Busy is the time the server has spent answering so far (booting instances' hosts included): what a
// benchmark subtracts to count the caller's own time.
func (s *Server) Busy() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.busy
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() {
		s.mu.Lock()
		s.busy += time.Since(start)
		s.mu.Unlock()
	}()
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	action := r.PostForm.Get("Action")
	m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization"))
	var body string
	var e *apiError
	switch {
	case m == nil:
		e = &apiError{http.StatusUnauthorized, "AuthFailure", "the request is not signed"}
	case !s.accepts(m[1]):
		e = &apiError{http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials"}
	case !slices.Contains(s.Regions, m[2]):
		e = &apiError{http.StatusUnauthorized, "AuthFailure", "region " + m[2] + " is not enabled for this account"}
	default:
		body, e = s.do(m[2], action, form(r.PostForm))
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	if e != nil {
		w.WriteHeader(e.status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>fake-request</RequestID></Response>`, e.code, esc(e.msg))
		return
	}
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<%sResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>fake-request</requestId>%s</%sResponse>`, action, body, action)
}

// form reads the query protocol's flattened lists.
type form map[string][]string

func (f form) get(k string) string {
	if v := f[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// list returns prefix.1, prefix.2, ...
func (f form) list(prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := f[prefix+"."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

// filters returns Filter.N.Name -> values.
func (f form) filters() map[string][]string {
	out := map[string][]string{}
	for i := 1; ; i++ {
		p := "Filter." + strconv.Itoa(i)
		name := f.get(p + ".Name")
		if name == "" {
			return out
		}
		out[name] = f.list(p + ".Value")
	}
}

// tags returns the tags of TagSpecification.1.
func (f form) tags() map[string]string {
	out := map[string]string{}
	for i := 1; ; i++ {
		p := "TagSpecification.1.Tag." + strconv.Itoa(i)
		k := f.get(p + ".Key")
		if k == "" {
			return out
		}
		out[k] = f.get(p + ".Value")
	}
}

func esc(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	return r.Replace(s)
}

func (s *Server) id(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s-%017x", prefix, s.seq)
}

// injected returns the fault scripted for action in the region and zone, if any.
func (s *Server) injected(action, region, zone string) *apiError {
	for _, f := range s.faults {
		if f.action == action && (f.where == "" || f.where == region || f.where == zone) {
			return &apiError{f.status, f.code, f.msg}
		}
	}
	return nil
}

func decodeKey(material string) string {
	if b, err := base64.StdEncoding.DecodeString(material); err == nil {
		return strings.TrimSpace(string(b))
	}
	return strings.TrimSpace(material)
}
