package gcp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/agent/agenttls"
	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/cloud/nodeagent"
	"github.com/stix-run/stix/internal/cloud/vm"
	"github.com/stix-run/stix/internal/testutil/fakegce"
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

// writeCatalog writes a GCP catalog for regions into dir: n1-standard-4 in every zone, a T4 priced beside it,
// and the default image tags (global, as SkyPilot's GCP images are).
func writeCatalog(t *testing.T, dir string, regions ...string) {
	t.Helper()
	var vms strings.Builder
	vms.WriteString("InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice\n")
	for _, r := range regions {
		for _, z := range fakegce.Zones(r) {
			fmt.Fprintf(&vms, "n1-standard-4,4.0,15.0,,,,%s,%s,0.19,0.04\n", r, z)
			fmt.Fprintf(&vms, ",,,T4,1,,%s,%s,0.35,0.07\n", r, z)
		}
	}
	images := "Tag,Region,OS,OSVersion,ImageId,CreationDate,BaseImageId\n"
	for _, tag := range []string{cpuImageTag, gpuImageTag} {
		images += tag + ",,ubuntu,22.04," + fakegce.DefaultImage + ",20260101,\n"
	}
	if err := os.MkdirAll(filepath.Join(dir, "gcp"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"vms.csv": vms.String(), "images.csv": images} {
		if err := os.WriteFile(filepath.Join(dir, "gcp", name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fixture is a fake Compute Engine with a service-account key, and a provider over it.
type fixture struct {
	gce   *fakegce.Server
	p     *Provider
	env   map[string]string
	email string
}

func newFixture(t *testing.T, regions ...string) *fixture {
	t.Helper()
	f := &fixture{gce: fakegce.New(t, regions...), email: "stix@" + fakegce.Project + ".iam.gserviceaccount.com"}
	f.env = map[string]string{
		"GOOGLE_APPLICATION_CREDENTIALS": f.gce.ServiceAccountKey(t, t.TempDir(), f.email),
		EndpointEnv:                      f.gce.Endpoint,
	}
	f.p = f.provider(t)
	return f
}

// provider is a new provider over the fake, with the fixture's environment and a home of its own.
func (f *fixture) provider(t *testing.T) *Provider {
	t.Helper()
	catDir := t.TempDir()
	writeCatalog(t, catDir, f.gce.Regions...)
	env := credcheck.Env{Home: t.TempDir(), Getenv: func(k string) string { return f.env[k] }}
	p, err := New(Options{Env: &env, Options: vm.Options{Home: t.TempDir(), SSHUser: currentUser(t),
		AgentBinary: func() (string, error) { return agentBin, nil },
		Catalog: func(ctx context.Context) (*catalog.Cloud, error) {
			cat, err := catalog.Load(ctx, catalog.Dir(catDir), Name)
			if err != nil {
				return nil, err
			}
			c, _ := cat.Cloud(Name)
			return c, nil
		},
		PollInterval: 20 * time.Millisecond, WaitTimeout: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	return p
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
		Offer:        cloud.Offer{Cloud: Name, Region: region, Zone: zone, InstanceType: "n1-standard-4"},
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

func statuses(t *testing.T, p *Provider, ref cloud.ClusterRef) []cloud.NodeStatus {
	t.Helper()
	states, err := p.Query(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	var out []cloud.NodeStatus
	for _, s := range states {
		out = append(out, s.Status)
	}
	return out
}

// TestLifecycle: two N1 nodes with a T4 each, the task's ports, disk and agents; status by labels without
// stix's state; stop keeps them, start brings them back; terminate leaves no instance or firewall rule.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	req := request("c1", "us-central1", "us-central1-b", 2)
	req.Offer.Accelerators = map[string]float64{"T4": 1}
	req.Requirements.Ports = []string{"8080", "9000-9010"}
	req.Requirements.DiskSizeGB = 100
	ctx := context.Background()
	info, err := f.p.Provision(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	healthy(t, f.p, info)
	insts := f.gce.Instances()
	if len(insts) != 2 || insts[0].Zone != "us-central1-b" || insts[0].MachineType != "n1-standard-4" || insts[0].DiskGB != "100" {
		t.Fatalf("instances: %+v", insts)
	}
	in := insts[0]
	if in.Labels[labelCluster] != "c1" || in.Labels[labelUser] != vm.UserHash() || !slices.Equal(in.Accelerators, []string{"nvidia-tesla-t4:1"}) ||
		in.OnHostMaintenance != "TERMINATE" || in.Image != fakegce.DefaultImage || in.Spot {
		t.Errorf("instance: %+v", in)
	}
	fw := f.gce.Firewalls()[resourceName("c1")]
	if fw == nil || fmt.Sprint(fw["allowed"]) != "[map[IPProtocol:tcp ports:[22 8080 9000-9010]]]" || fmt.Sprint(fw["targetTags"]) != fmt.Sprint(in.Tags) {
		t.Errorf("firewall rule %v, instance tags %v", fw, in.Tags)
	}
	eps, err := f.p.Endpoints(ctx, info, []int{8080})
	if err != nil || eps[8080] != info.Nodes[0].ExternalIP+":8080" {
		t.Errorf("Endpoints = %v, %v", eps, err)
	}
	// `status -r` without stix's local state: the labels find the instances.
	if got := statuses(t, f.provider(t), cloud.ClusterRef{Name: "c1", Handle: info.Handle}); !slices.Equal(got, []cloud.NodeStatus{cloud.NodeRunning, cloud.NodeRunning}) {
		t.Errorf("Query by label: %v", got)
	}
	if err := f.p.Stop(ctx, cloud.ClusterRef{Name: "c1"}); err != nil {
		t.Fatal(err)
	}
	if got := statuses(t, f.p, cloud.ClusterRef{Name: "c1"}); !slices.Equal(got, []cloud.NodeStatus{cloud.NodeStopped, cloud.NodeStopped}) {
		t.Errorf("after stop: %v", got)
	}
	info, err = f.p.Start(ctx, cloud.ClusterRef{Name: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	healthy(t, f.p, info)
	if err := f.p.Terminate(ctx, cloud.ClusterRef{Name: "c1"}); err != nil {
		t.Fatal(err)
	}
	if n, fws := f.gce.Live(); n != 0 || fws != 0 {
		t.Errorf("after terminate: %d instances, %d firewall rules", n, fws)
	}
	if err := f.p.Terminate(ctx, cloud.ClusterRef{Name: "c1"}); err != nil {
		t.Errorf("terminate of a terminated cluster: %v", err)
	}
}

// TestFailures: Compute Engine's errors typed for failover, and bad input refused, each leaving nothing behind.
func TestFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		setup  func(*testing.T, *fixture, *cloud.ProvisionRequest)
		level  cloud.Level
		typ    error
		saying string
	}{
		{"zone exhausted", func(_ *testing.T, f *fixture, _ *cloud.ProvisionRequest) {
			f.gce.Fail("insert", "us-central1-a", "ZONE_RESOURCE_POOL_EXHAUSTED",
				"The zone 'projects/"+fakegce.Project+"/zones/us-central1-a' does not have enough resources available to fulfill the request.  Try a different zone, or try again later.")
		}, cloud.LevelZone, &cloud.CapacityError{}, "ZONE_RESOURCE_POOL_EXHAUSTED"},
		{"regional quota", func(_ *testing.T, f *fixture, _ *cloud.ProvisionRequest) {
			f.gce.Fail("insert", "us-central1", "QUOTA_EXCEEDED", "Quota 'CPUS' exceeded.  Limit: 4.0 in region us-central1.")
		}, cloud.LevelRegion, &cloud.QuotaError{}, "Quota 'CPUS' exceeded"},
		{"global quota", func(_ *testing.T, f *fixture, _ *cloud.ProvisionRequest) {
			f.gce.Fail("insert", "", "QUOTA_EXCEEDED", "Quota 'GPUS_ALL_REGIONS' exceeded.  Limit: 0.0 globally.")
		}, cloud.LevelCloud, &cloud.QuotaError{}, "GPUS_ALL_REGIONS"},
		{"revoked key", func(_ *testing.T, f *fixture, _ *cloud.ProvisionRequest) {
			f.gce.Revoke(f.email)
		}, cloud.LevelCloud, &cloud.AuthError{}, "invalid_grant"},
		{"project not allowed", func(t *testing.T, f *fixture, _ *cloud.ProvisionRequest) {
			f.env["GOOGLE_CLOUD_PROJECT"] = "someone-elses"
			f.p = f.provider(t)
		}, cloud.LevelCloud, &cloud.AuthError{}, "permission"},
		{"unknown region", func(_ *testing.T, _ *fixture, req *cloud.ProvisionRequest) {
			req.Offer.Region, req.Offer.Zone = "mars-north1", ""
		}, cloud.LevelCloud, &cloud.InvalidConfigError{}, "mars-north1"},
		{"missing image", func(_ *testing.T, _ *fixture, req *cloud.ProvisionRequest) {
			req.Requirements.ImageID = "projects/nobody/global/images/nothing"
		}, cloud.LevelCloud, &cloud.InvalidConfigError{}, "projects/nobody/global/images/nothing"},
		{"ports out of range", func(_ *testing.T, _ *fixture, req *cloud.ProvisionRequest) {
			req.Requirements.Ports = []string{"70000"}
		}, cloud.LevelCloud, &cloud.InvalidConfigError{}, `"70000" is not a port`},
		{"TPU", func(_ *testing.T, _ *fixture, req *cloud.ProvisionRequest) {
			req.Offer.Accelerators = map[string]float64{"tpu-v5e-8": 1}
		}, cloud.LevelCloud, &cloud.InvalidConfigError{}, "TPU"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			req := request("bad", "us-central1", "us-central1-a", 2)
			tc.setup(t, f, &req)
			_, err := f.p.Provision(context.Background(), req)
			if err == nil {
				t.Fatal("Provision succeeded")
			}
			if got := cloud.ScopeOf(err).Level; got != tc.level {
				t.Errorf("scope %v, want %v: %v", got, tc.level, err)
			}
			if !hasType(err, tc.typ) {
				t.Errorf("error %T, want %T: %v", err, tc.typ, err)
			}
			if !strings.Contains(err.Error(), tc.saying) {
				t.Errorf("error does not say %q: %v", tc.saying, err)
			}
			if n, fws := f.gce.Live(); n != 0 || fws != 0 {
				t.Errorf("left behind: %d instances, %d firewall rules", n, fws)
			}
			if s, _ := vm.Load[state](f.p.m, "bad"); s != nil {
				t.Errorf("state left behind: %+v", s)
			}
		})
	}
}

// TestRegionOfferTriesZones: an offer for a whole region tries its zones in turn; only when each is exhausted
// is the region ruled out.
func TestRegionOfferTriesZones(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.gce.Fail("insert", "us-central1-a", "ZONE_RESOURCE_POOL_EXHAUSTED", "The zone does not have enough resources available to fulfill the request.")
	info, err := f.p.Provision(context.Background(), request("r1", "us-central1", "", 1))
	if err != nil || info.Zone != "us-central1-b" {
		t.Fatalf("Provision = %+v, %v; want us-central1-b", info, err)
	}
	f.gce.Fail("insert", "us-central1", "ZONE_RESOURCE_POOL_EXHAUSTED", "The zone does not have enough resources available to fulfill the request.")
	_, err = f.p.Provision(context.Background(), request("r2", "us-central1", "", 1))
	if got := cloud.ScopeOf(err); got.Level != cloud.LevelRegion || got.Region != "us-central1" {
		t.Errorf("scope %+v: %v", got, err)
	}
	if n, _ := f.gce.Live(); n != 1 {
		t.Errorf("%d instances, want r1's one", n)
	}
}

// TestSpotPreempted: a spot VM Compute Engine takes back is seen as gone, and status cleans up after it.
func TestSpotPreempted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	req := request("sp", "us-central1", "us-central1-a", 1)
	req.Offer.Spot = true
	if _, err := f.p.Provision(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	insts := f.gce.Instances()
	if len(insts) != 1 || !insts[0].Spot || insts[0].OnHostMaintenance != "TERMINATE" {
		t.Fatalf("instances: %+v", insts)
	}
	if err := f.p.Stop(context.Background(), cloud.ClusterRef{Name: "sp"}); err == nil {
		t.Error("stop of a spot cluster succeeded")
	}
	f.gce.Preempt(insts[0].Name)
	states, err := f.p.Query(context.Background(), cloud.ClusterRef{Name: "sp"})
	if err != nil || len(states) != 1 || states[0].Status != cloud.NodeMissing || !strings.Contains(states[0].Reason, "preempted") {
		t.Errorf("Query after preemption: %+v, %v", states, err)
	}
	if n, fws := f.gce.Live(); n != 0 || fws != 0 {
		t.Errorf("after the preempted cluster was seen: %d instances, %d firewall rules", n, fws)
	}
}

// TestVerifyCredentials: one read-only call; a service account whose key was deleted is an AuthError; user
// credentials (authorized_user, refresh token) reach the token endpoint named by STIX_GCP_TOKEN_URL.
func TestVerifyCredentials(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if err := f.p.VerifyCredentials(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.gce.Revoke(f.email)
	err := f.provider(t).VerifyCredentials(context.Background())
	var auth *cloud.AuthError
	if !errors.As(err, &auth) {
		t.Errorf("VerifyCredentials with a revoked key = %v, want an AuthError", err)
	}
	f.env["GOOGLE_APPLICATION_CREDENTIALS"] = f.gce.UserCredentials(t, t.TempDir())
	f.env[TokenURLEnv] = f.gce.TokenURL
	if err := f.provider(t).VerifyCredentials(context.Background()); err != nil {
		t.Errorf("VerifyCredentials with user credentials: %v", err)
	}
	for _, c := range f.gce.Calls() {
		if !strings.HasPrefix(c, "firewall") {
			t.Errorf("VerifyCredentials changed something: %s", c)
		}
	}
}

// hasType says some error in err's chain has want's type.
func hasType(err, want error) bool {
	for _, e := range chain(err) {
		if fmt.Sprintf("%T", e) == fmt.Sprintf("%T", want) {
			return true
		}
	}
	return false
}

func chain(err error) []error {
	if err == nil {
		return nil
	}
	out := []error{err}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		out = append(out, chain(u.Unwrap())...)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			out = append(out, chain(e)...)
		}
	}
	return out
}
