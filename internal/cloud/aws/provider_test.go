package aws

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/agent/agenttls"
	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/nodeagent"
	"github.com/stix-run/stix/internal/cloud/vm"
	"github.com/stix-run/stix/internal/testutil/fakeec2"
)

var agentBin string

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	agentBin = os.Getenv(nodeagent.BinaryEnv)
	if agentBin == "" {
		dir, err := os.MkdirTemp("", "stix-agent-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		agentBin = filepath.Join(dir, nodeagent.BinaryName)
		build := exec.Command("go", "build", "-o", agentBin, "github.com/stix-run/stix/cmd/stix-agent")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build stix-agent:", err)
			return 1
		}
	}
	return m.Run()
}

// WriteCatalog writes an AWS catalog for the fake's regions into dir: one instance type in every zone, and
// the default image tags' AMIs.
func writeCatalog(t *testing.T, dir string, regions ...string) {
	t.Helper()
	var vms, images strings.Builder
	vms.WriteString("InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone\n")
	images.WriteString("Tag,Region,OS,OSVersion,ImageId,CreationDate\n")
	for _, r := range regions {
		for _, z := range fakeec2.Zones(r) {
			fmt.Fprintf(&vms, "m6i.large,,,2.0,8.0,,0.096,0.03,%s,%s\n", r, z)
		}
		for _, tag := range []string{cpuImageTag, gpuImageTag} {
			fmt.Fprintf(&images, "%s,%s,ubuntu,22.04,%s,2026-01-01\n", tag, r, fakeec2.ImageID(r))
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "aws"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"vms.csv": vms.String(), "images.csv": images.String()} {
		if err := os.WriteFile(filepath.Join(dir, "aws", name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fixture is a fake EC2 reached by the real SDK, and a provider over it.
type fixture struct {
	ec2 *fakeec2.Server
	p   *Provider
}

// newFixture points the SDK at a fake EC2 serving regions, with the fake's access key.
func newFixture(t *testing.T, regions ...string) *fixture {
	t.Helper()
	f := &fixture{ec2: fakeec2.New(t, regions...)}
	setSDKEnv(t, f.ec2)
	catDir := t.TempDir()
	writeCatalog(t, catDir, f.ec2.Regions...)
	var err error
	f.p, err = New(Options{Home: t.TempDir(), SSHUser: currentUser(t), AgentBinary: func() (string, error) { return agentBin, nil },
		Catalog: func(ctx context.Context) (*catalog.Cloud, error) {
			cat, err := catalog.Load(ctx, catalog.Dir(catDir), Name)
			if err != nil {
				return nil, err
			}
			c, _ := cat.Cloud(Name)
			return c, nil
		},
		PollInterval: 20 * time.Millisecond, WaitTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// setSDKEnv makes the SDK's default chain find the fake's key and endpoint, and nothing of this machine's.
func setSDKEnv(t *testing.T, s *fakeec2.Server) {
	t.Helper()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_EC2": s.URL, "AWS_ACCESS_KEY_ID": fakeec2.AccessKey, "AWS_SECRET_ACCESS_KEY": "fake-secret",
		"AWS_MAX_ATTEMPTS": "1", "AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": "",
		"AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
		"AWS_PROFILE": "", "AWS_SESSION_TOKEN": "",
	} {
		t.Setenv(k, v)
	}
}

func currentUser(t *testing.T) string {
	out, err := exec.Command("id", "-un").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func request(name, region, zone string, nodes int) cloud.ProvisionRequest {
	return cloud.ProvisionRequest{Cluster: cloud.ClusterRef{Name: name},
		Offer:        cloud.Offer{Cloud: Name, Region: region, Zone: zone, InstanceType: "m6i.large"},
		Requirements: cloud.Requirements{NumNodes: nodes}}
}

// healthy checks the agent of every node through the provider's transport.
func healthy(t *testing.T, p *Provider, info *cloud.ClusterInfo) {
	t.Helper()
	tlsCfg, err := agenttls.ClientConfig([]byte(info.CACert))
	if err != nil {
		t.Fatal(err)
	}
	for rank, n := range info.Nodes {
		tr, err := p.Transport(context.Background(), info, rank)
		if err != nil {
			t.Fatalf("node %d: %v", rank, err)
		}
		if _, err := nodeagent.CheckHealth(context.Background(), tr.Dial, n.AgentAddr, info.Secret, agent.WithTLS(tlsCfg)); err != nil {
			t.Errorf("node %d: agent at %s: %v", rank, n.AgentAddr, err)
		}
		tr.Close()
	}
}

func statuses(t *testing.T, p *Provider, name string) []cloud.NodeStatus {
	t.Helper()
	states, err := p.Query(context.Background(), cloud.ClusterRef{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	var out []cloud.NodeStatus
	for _, s := range states {
		out = append(out, s.Status)
	}
	return out
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestLifecycle: two nodes in one subnet with the task's ports, disk and agents; stop keeps them, start brings
// them back, terminate leaves no instance or security group.
func TestLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	req := request("c1", "us-east-1", "us-east-1b", 2)
	req.Requirements.Ports = []string{"8080", "9000-9010"}
	req.Requirements.DiskSizeGB, req.Requirements.DiskTier = 100, "low"
	info, err := f.p.Provision(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Nodes) != 2 || info.Zone != "us-east-1b" {
		t.Fatalf("info: %d nodes in %s, want 2 in us-east-1b", len(info.Nodes), info.Zone)
	}
	healthy(t, f.p, info)
	insts := f.ec2.Instances()
	if len(insts) != 2 || insts[0].SubnetID != insts[1].SubnetID || insts[0].DiskGB != 100 || insts[0].VolumeType != "standard" ||
		insts[0].Tags[tagCluster] != "c1" || insts[0].Image != fakeec2.ImageID("us-east-1") {
		t.Errorf("instances: %+v", insts)
	}
	if got := statuses(t, f.p, "c1"); !equal(got, []cloud.NodeStatus{cloud.NodeRunning, cloud.NodeRunning}) {
		t.Errorf("Query: %v", got)
	}
	// The ports are reached at the head instance's public IP (`status --endpoints`).
	eps, err := f.p.Endpoints(ctx, info, []int{8080, 9005})
	if head := insts[0].Host.Host; err != nil || len(eps) != 2 || eps[8080] != head+":8080" || eps[9005] != head+":9005" {
		t.Errorf("Endpoints: %v, %v; want the head's public IP %s with each port", eps, err, head)
	}
	// Another user's cluster of the same name in the account is not this one.
	if insts[0].Tags[tagUser] != userHash() {
		t.Errorf("instance tags %v lack %s=%s", insts[0].Tags, tagUser, userHash())
	}
	// `status -r` without stix's local state: the tags find the instances.
	stateless, _ := New(Options{Home: t.TempDir()})
	states, err := stateless.Query(ctx, cloud.ClusterRef{Name: "c1", Handle: info.Handle})
	if err != nil || len(states) != 2 {
		t.Errorf("Query by tag: %v, %v", states, err)
	}

	if err := f.p.Stop(ctx, cloud.ClusterRef{Name: "c1"}); err != nil {
		t.Fatal(err)
	}
	if got := statuses(t, f.p, "c1"); !equal(got, []cloud.NodeStatus{cloud.NodeStopped, cloud.NodeStopped}) {
		t.Errorf("Query after stop: %v", got)
	}
	info, err = f.p.Start(ctx, cloud.ClusterRef{Name: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	healthy(t, f.p, info)

	if err := f.p.Terminate(ctx, cloud.ClusterRef{Name: "c1"}); err != nil {
		t.Fatal(err)
	}
	if n, g, _ := f.ec2.Live(); n != 0 || g != 0 {
		t.Errorf("after terminate: %d instances, %d security groups left", n, g)
	}
	if got := statuses(t, f.p, "c1"); len(got) != 0 {
		t.Errorf("Query after terminate: %v", got)
	}
	if err := f.p.Terminate(ctx, cloud.ClusterRef{Name: "c1"}); err != nil {
		t.Errorf("terminating again: %v", err)
	}
}

// TestErrors: EC2's error payloads become the failover errors SkyPilot's failover reads, and a failed launch
// leaves no instance, security group or key pair behind.
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(f *fixture, req *cloud.ProvisionRequest)
		level  cloud.Level
		typ    any
		saying string
	}{
		{"capacity", func(f *fixture, _ *cloud.ProvisionRequest) {
			f.ec2.Fail("RunInstances", "us-east-1a", "InsufficientInstanceCapacity", "We currently do not have sufficient m6i.large capacity in the Availability Zone you requested (us-east-1a).")
		}, cloud.LevelZone, &cloud.CapacityError{}, "InsufficientInstanceCapacity"},
		{"unsupported", func(f *fixture, _ *cloud.ProvisionRequest) {
			f.ec2.Fail("RunInstances", "", "Unsupported", "Your requested instance type (m6i.large) is not supported in your requested Availability Zone (us-east-1a).")
		}, cloud.LevelZone, &cloud.CapacityError{}, "Unsupported"},
		{"vcpu quota", func(f *fixture, _ *cloud.ProvisionRequest) {
			f.ec2.Fail("RunInstances", "", "VcpuLimitExceeded", "You have requested more vCPU capacity than your current vCPU limit of 0 allows.")
		}, cloud.LevelRegion, &cloud.QuotaError{}, "VcpuLimitExceeded"},
		{"spot quota", func(f *fixture, req *cloud.ProvisionRequest) {
			req.Offer.Spot = true
			f.ec2.Fail("RunInstances", "", "MaxSpotInstanceCountExceeded", "Max spot instance count exceeded")
		}, cloud.LevelRegion, &cloud.QuotaError{}, "MaxSpotInstanceCountExceeded"},
		{"unauthorized", func(f *fixture, _ *cloud.ProvisionRequest) {
			f.ec2.Fail("RunInstances", "", "UnauthorizedOperation", "You are not authorized to perform this operation.")
		}, cloud.LevelCloud, &cloud.AuthError{}, "UnauthorizedOperation"},
		{"rejected credentials", func(f *fixture, _ *cloud.ProvisionRequest) {
			f.ec2.SetAccessKeys("AKIAOTHER")
		}, cloud.LevelCloud, &cloud.AuthError{}, "AuthFailure"},
		{"expired token", func(f *fixture, _ *cloud.ProvisionRequest) {
			f.ec2.Fail("DescribeKeyPairs", "", "RequestExpired", "Request has expired.")
		}, cloud.LevelCloud, &cloud.AuthError{}, "RequestExpired"},
		{"image missing in region", func(_ *fixture, req *cloud.ProvisionRequest) {
			req.Requirements.ImageID = "ami-0123456789abcdef0"
		}, cloud.LevelCloud, &cloud.InvalidConfigError{}, "InvalidAMIID.NotFound"},
		{"unknown region", func(_ *fixture, req *cloud.ProvisionRequest) {
			req.Offer.Region, req.Offer.Zone = "mars-north-1", ""
		}, cloud.LevelCloud, &cloud.InvalidConfigError{}, "mars-north-1"},
		{"ports out of range", func(_ *fixture, req *cloud.ProvisionRequest) {
			req.Requirements.Ports = []string{"70000"}
		}, cloud.LevelCloud, &cloud.InvalidConfigError{}, `"70000" is not a port`},
		{"key pair with another key", func(f *fixture, _ *cloud.ProvisionRequest) {
			f.ec2.ImportKey("us-east-1", keyName(), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherKeyOtherKeyOtherKeyOtherKeyOtherKey0 other")
		}, cloud.LevelCloud, &cloud.InvalidConfigError{}, "holds another public key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			req := request("bad", "us-east-1", "us-east-1a", 2)
			tc.setup(f, &req)
			_, keysBefore, _ := 0, 0, 0
			_, _, keysBefore = f.ec2.Live()
			_, err := f.p.Provision(context.Background(), req)
			if err == nil {
				t.Fatal("Provision succeeded")
			}
			if got := cloud.ScopeOf(err).Level; got != tc.level {
				t.Errorf("scope %v, want %v: %v", got, tc.level, err)
			}
			if !errors.As(err, &tc.typ) {
				t.Errorf("error %T, want %T: %v", err, tc.typ, err)
			}
			if !strings.Contains(err.Error(), tc.saying) {
				t.Errorf("error does not say %q: %v", tc.saying, err)
			}
			if n, g, k := f.ec2.Live(); n != 0 || g != 0 || k != keysBefore {
				t.Errorf("left behind: %d instances, %d security groups, %d key pairs (%d before)", n, g, k, keysBefore)
			}
			if s, _ := vm.Load[state](f.p.m, "bad"); s != nil {
				t.Errorf("state left behind: %+v", s)
			}
		})
	}
}

// TestSpotPreempted: a spot instance AWS takes back is missing for Query, which says why.
func TestSpotPreempted(t *testing.T) {
	f := newFixture(t)
	req := request("sp", "us-east-1", "us-east-1c", 1)
	req.Offer.Spot = true
	if _, err := f.p.Provision(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	insts := f.ec2.Instances()
	if len(insts) != 1 || !insts[0].Spot {
		t.Fatalf("instances: %+v", insts)
	}
	if err := f.p.Stop(context.Background(), cloud.ClusterRef{Name: "sp"}); err == nil {
		t.Error("stopping a spot cluster: want an error")
	}
	f.ec2.Preempt(insts[0].ID)
	states, err := f.p.Query(context.Background(), cloud.ClusterRef{Name: "sp"})
	if err != nil || len(states) != 1 || states[0].Status != cloud.NodeMissing || !strings.Contains(states[0].Reason, "preempted") {
		t.Errorf("Query after preemption: %+v, %v", states, err)
	}
	if _, g, _ := f.ec2.Live(); g != 0 {
		t.Errorf("Query of a cluster whose instances all ended left its security group")
	}
	if err := f.p.Terminate(context.Background(), cloud.ClusterRef{Name: "sp"}); err != nil {
		t.Fatal(err)
	}
	if n, g, _ := f.ec2.Live(); n != 0 || g != 0 {
		t.Errorf("after terminate: %d instances, %d security groups left", n, g)
	}
}

// TestVerify: the one read-only call of `check -v` accepts the fake's key and types a rejected one.
func TestVerify(t *testing.T) {
	f := newFixture(t, "us-east-1", "eu-west-1")
	regions, err := f.p.Verify(context.Background(), "us-east-1")
	if err != nil || strings.Join(regions, " ") != "us-east-1 eu-west-1" {
		t.Fatalf("Verify: %v, %v", regions, err)
	}
	f.ec2.SetAccessKeys("AKIAOTHER")
	_, err = f.p.Verify(context.Background(), "us-east-1")
	var auth *cloud.AuthError
	if !errors.As(err, &auth) || !strings.Contains(err.Error(), "AuthFailure") {
		t.Errorf("Verify with a rejected key: %v", err)
	}
	if calls := f.ec2.Calls(); len(calls) != 1 || calls[0] != "DescribeRegions" {
		t.Errorf("calls: %v, want one DescribeRegions (the rejected one is refused before the API)", calls)
	}
}

// TestZoneID: the catalog names zones by ID (use1-az4); the instance lands in the account's zone of that ID,
// which the cluster reports by name.
func TestZoneID(t *testing.T) {
	f := newFixture(t)
	id := fakeec2.ZoneIDs("us-east-1")[2]
	info, err := f.p.Provision(context.Background(), request("z1", "us-east-1", id, 1))
	if err != nil {
		t.Fatal(err)
	}
	if insts := f.ec2.Instances(); len(insts) != 1 || insts[0].Zone != "us-east-1c" || info.Zone != "us-east-1c" {
		t.Errorf("zone ID %s: instance in %+v, cluster in %s; want us-east-1c", id, insts, info.Zone)
	}
	if err := f.p.Terminate(context.Background(), cloud.ClusterRef{Name: "z1"}); err != nil {
		t.Fatal(err)
	}
}

// TestEventualConsistency: instances EC2 does not describe yet right after RunInstances are waited for.
func TestEventualConsistency(t *testing.T) {
	f := newFixture(t)
	f.ec2.DescribeLag = 2
	if _, err := f.p.Provision(context.Background(), request("ec", "us-east-1", "us-east-1a", 1)); err != nil {
		t.Fatal(err)
	}
	if err := f.p.Terminate(context.Background(), cloud.ClusterRef{Name: "ec"}); err != nil {
		t.Fatal(err)
	}
}

// TestOtherUsersCluster: another user's cluster of the same name in a shared account (its own stix-user tag) is
// neither reported nor terminated.
func TestOtherUsersCluster(t *testing.T) {
	f := newFixture(t)
	other := f.ec2.AddInstance("us-east-1", "us-east-1a", map[string]string{tagCluster: "c2", tagUser: "0ther000"})
	ctx := context.Background()
	info, err := f.p.Provision(ctx, request("c2", "us-east-1", "us-east-1a", 1))
	if err != nil {
		t.Fatal(err)
	}
	stateless, _ := New(Options{Home: t.TempDir()})
	if states, err := stateless.Query(ctx, cloud.ClusterRef{Name: "c2", Handle: info.Handle}); err != nil || len(states) != 1 {
		t.Errorf("Query by tag: %v, %v; want this user's one node", states, err)
	}
	if err := stateless.Terminate(ctx, cloud.ClusterRef{Name: "c2", Handle: info.Handle}); err != nil {
		t.Fatal(err)
	}
	for _, in := range f.ec2.Instances() {
		if in.ID == other && in.State != "running" {
			t.Errorf("the other user's instance is %s", in.State)
		}
		if in.ID != other && in.State != "terminated" {
			t.Errorf("this user's instance %s is %s", in.ID, in.State)
		}
	}
}

// TestRegionOffer: an offer for a whole region tries its zones in turn; only when every zone lacks capacity is
// the region ruled out, and another error stops the search as it is.
func TestRegionOffer(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for _, z := range []string{"us-east-1a", "us-east-1b"} {
		f.ec2.Fail("RunInstances", z, "InsufficientInstanceCapacity", "no capacity in "+z)
	}
	info, err := f.p.Provision(ctx, request("r1", "us-east-1", "", 1))
	if err != nil || info.Zone != "us-east-1c" {
		t.Fatalf("Provision: zone %v, %v; want us-east-1c", info, err)
	}
	f.ec2.Fail("RunInstances", "us-east-1c", "InsufficientInstanceCapacity", "no capacity in us-east-1c")
	_, err = f.p.Provision(ctx, request("r2", "us-east-1", "", 1))
	if s := cloud.ScopeOf(err); s.Level != cloud.LevelRegion || s.Region != "us-east-1" {
		t.Errorf("every zone out of capacity: scope %v: %v", s, err)
	}

	g := newFixture(t)
	g.ec2.Fail("RunInstances", "us-east-1a", "InsufficientInstanceCapacity", "no capacity in us-east-1a")
	g.ec2.Fail("RunInstances", "us-east-1b", "VcpuLimitExceeded", "vCPU limit")
	_, err = g.p.Provision(ctx, request("r3", "us-east-1", "", 1))
	var quota *cloud.QuotaError
	if !errors.As(err, &quota) {
		t.Errorf("a quota error after a zone without capacity: %T %v, want the quota error", err, err)
	}
}
