package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/transport"
)

// named is a Provider that only has a name and no optional capability: the registry needs nothing else.
type named string

func (n named) Name() string                                                    { return string(n) }
func (named) Offers(context.Context) (OfferFunc, error)                         { return nil, nil }
func (named) Provision(context.Context, ProvisionRequest) (*ClusterInfo, error) { return nil, nil }
func (named) Query(context.Context, ClusterRef) ([]NodeState, error)            { return nil, nil }
func (named) Terminate(context.Context, ClusterRef) error                       { return nil }
func (named) Transport(context.Context, *ClusterInfo, int) (transport.Transport, error) {
	return nil, nil
}

// capable is a Provider with every optional capability; its CheckImage takes images "ok:*" only.
type capable struct{ named }

func (capable) Stop(context.Context, ClusterRef) error                  { return nil }
func (capable) Start(context.Context, ClusterRef) (*ClusterInfo, error) { return nil, nil }
func (capable) MaxNodes() int                                           { return 4 }
func (capable) SpotPreemptible()                                        {}
func (capable) OpensPorts()                                             {}
func (capable) CheckImage(id string) error {
	if !strings.HasPrefix(id, "ok:") {
		return fmt.Errorf("capable infra runs ok: images only")
	}
	return nil
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	if err := r.Add(Descriptor{Name: "local", Display: "Local"}, named("local")); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(Descriptor{Name: "kubernetes", Display: "Kubernetes", Aliases: []string{"k8s"}}, named("kubernetes")); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(Descriptor{Name: "aws", Display: "AWS", Kind: Priced, Catalog: true}, nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"local", "LOCAL", " Local ", "kubernetes", "K8s"} {
		p, err := r.Lookup(name)
		if err != nil {
			t.Errorf("Lookup(%q): %v", name, err)
			continue
		}
		want := "local"
		if strings.Contains(strings.ToLower(name), "k") {
			want = "kubernetes"
		}
		if p.Name() != want {
			t.Errorf("Lookup(%q) = %s, want %s", name, p.Name(), want)
		}
	}
	if d, ok := r.Describe("K8S"); !ok || d.Name != "kubernetes" {
		t.Errorf("Describe(K8S) = %+v, %v", d, ok)
	}
	if _, err := r.Lookup("aws"); !errors.Is(err, ErrNotProvisionable) || !strings.Contains(err.Error(), "AWS") {
		t.Errorf("Lookup(aws) with no provider = %v; want ErrNotProvisionable naming AWS", err)
	}
	_, err := r.Lookup("awz")
	if !errors.Is(err, ErrUnknownProvider) || !strings.Contains(err.Error(), "local, kubernetes, aws") {
		t.Errorf("Lookup(unknown) = %v; want ErrUnknownProvider listing the known names", err)
	}
	if err := r.Add(Descriptor{Name: "K8S"}, nil); err == nil {
		t.Error("Add of a name taken by an alias: want an error")
	}
	if err := r.Add(Descriptor{Name: "docker", Aliases: []string{"LOCAL"}}, named("docker")); err == nil {
		t.Error("Add of an alias taken by a name: want an error")
	}
	if err := r.Add(Descriptor{Name: "slurm"}, named("docker")); err == nil {
		t.Error("Add of a provider whose name is not its descriptor's: want an error")
	}
	if _, err := r.Lookup("docker"); err == nil {
		t.Error("a rejected Add must register nothing")
	}
	if got, want := r.Names(), []string{"local", "kubernetes", "aws"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
	if len(r.All()) != 2 || len(r.Descriptors()) != 3 {
		t.Errorf("All() has %d providers, want 2; Descriptors() %d, want 3", len(r.All()), len(r.Descriptors()))
	}
}

// TestUnsupported: what a request asks of a provider without the capability is refused, one reason per
// feature, naming the provider; a provider with the capabilities is asked.
func TestUnsupported(t *testing.T) {
	t.Parallel()
	req := Requirements{NumNodes: 2, UseSpot: true, Ports: []string{"8080"}, ImageID: "docker:ubuntu"}
	okReq := req
	okReq.ImageID = "ok:ubuntu"
	want := []string{
		"bare infra makes one-node clusters only; the task asks for 2 nodes",
		"bare infra has no spot instances; remove use_spot",
		"bare infra cannot open ports; remove ports",
		"bare infra runs no images; the task asks for image_id docker:ubuntu",
	}
	if got := Unsupported(named("bare"), req); !reflect.DeepEqual(got, want) {
		t.Errorf("Unsupported(bare) = %q\nwant %q", got, want)
	}
	c := capable{"all"}
	want = []string{"all infra makes clusters of at most 4 nodes; the task asks for 5", "capable infra runs ok: images only"}
	if got := Unsupported(c, Requirements{NumNodes: 5, ImageID: "docker:ubuntu"}); !reflect.DeepEqual(got, want) {
		t.Errorf("Unsupported(capable, too much) = %q\nwant %q", got, want)
	}
	asked := 0
	offers := func(Requirements) ([]Offer, error) { asked++; return []Offer{{Cloud: "all"}}, nil }
	if got, err := Feasible(c, offers, okReq); err != nil || len(got) != 1 || asked != 1 {
		t.Errorf("Feasible(capable) = %v, %v after %d asks", got, err, asked)
	}
	var inf *InfeasibleError
	if _, err := Feasible(named("bare"), offers, req); !errors.As(err, &inf) || len(inf.Reasons) != 4 || asked != 1 {
		t.Errorf("Feasible(bare) = %v (asked %d more times); want an InfeasibleError before asking", err, asked-1)
	}
}

func TestScopeOf(t *testing.T) {
	t.Parallel()
	at := Place{Cloud: "aws", Region: "us-east-1", Zone: "us-east-1a"}
	cases := []struct {
		name string
		err  error
		want Scope
	}{
		{"capacity rules out the zone", &CapacityError{Place: at}, Scope{LevelZone, "aws", "us-east-1", "us-east-1a"}},
		{"capacity without zone rules out the region", &CapacityError{Place: Place{Cloud: "lambda", Region: "us-west-1"}},
			Scope{LevelRegion, "lambda", "us-west-1", ""}},
		{"capacity without a place rules out the cloud", &CapacityError{Place: Place{Cloud: "runpod"}}, Scope{Level: LevelCloud, Cloud: "runpod"}},
		{"quota rules out the region", &QuotaError{Place: at}, Scope{LevelRegion, "aws", "us-east-1", ""}},
		{"auth rules out the cloud", &AuthError{Place: at}, Scope{Level: LevelCloud, Cloud: "aws"}},
		{"invalid config rules out the cloud", &InvalidConfigError{Place: at}, Scope{Level: LevelCloud, Cloud: "aws"}},
		{"infeasible rules out the cloud", &InfeasibleError{Cloud: "local"}, Scope{Level: LevelCloud, Cloud: "local"}},
		{"preemption rules out the zone", &PreemptedError{Place: at}, Scope{LevelZone, "aws", "us-east-1", "us-east-1a"}},
		{"not found rules out nothing", &NotFoundError{Place: at, Cluster: "c"}, Scope{}},
		{"unsupported rules out nothing", &UnsupportedError{Cloud: "kubernetes", Operation: "stop"}, Scope{}},
		{"plain error rules out nothing", errors.New("boom"), Scope{}},
		{"nil rules out nothing", nil, Scope{}},
		{"wrapped twice", fmt.Errorf("launch: %w", fmt.Errorf("provision: %w", &QuotaError{Place: at})),
			Scope{LevelRegion, "aws", "us-east-1", ""}},
		{"joined: the first typed error decides", errors.Join(errors.New("x"), &AuthError{Place: at}), Scope{Level: LevelCloud, Cloud: "aws"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := ScopeOf(tc.err); got != tc.want {
				t.Errorf("ScopeOf(%v) = %+v, want %+v", tc.err, got, tc.want)
			}
		})
	}
}

func TestErrorsAsAndMessages(t *testing.T) {
	t.Parallel()
	cause := errors.New("InsufficientInstanceCapacity")
	err := fmt.Errorf("provision c1: %w", &CapacityError{Place: Place{"aws", "us-east-1", "us-east-1a"}, Reason: "no p5.48xlarge", Err: cause})
	var ce *CapacityError
	if !errors.As(err, &ce) || ce.Zone != "us-east-1a" {
		t.Fatalf("errors.As(CapacityError) failed on %v", err)
	}
	if !errors.Is(err, cause) {
		t.Error("the cause must stay reachable with errors.Is")
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{err, "provision c1: no capacity in aws/us-east-1/us-east-1a: no p5.48xlarge: InsufficientInstanceCapacity"},
		{&QuotaError{Place: Place{Cloud: "gcp", Region: "us-central1"}, Reason: "GPUS_ALL_REGIONS is 0"}, "quota exceeded in gcp/us-central1: GPUS_ALL_REGIONS is 0"},
		{&AuthError{Place: Place{Cloud: "aws"}, Reason: "no credentials: run aws configure"}, "not authorized in aws: no credentials: run aws configure"},
		{&InfeasibleError{Cloud: "local", Reasons: []string{"local infra has 2 CPUs; the task asks for 4+", "local infra has no GPUs"}},
			"local infra has 2 CPUs; the task asks for 4+\nlocal infra has no GPUs"},
		{&NotFoundError{Place: Place{Cloud: "local"}, Cluster: "dev"}, "cluster dev not found in local"},
		{&PreemptedError{Place: Place{Cloud: "gcp", Region: "r", Zone: "z"}, Cluster: "c", Rank: 1}, "node 1 of cluster c preempted in gcp/r/z"},
		{&UnsupportedError{Cloud: "kubernetes", Operation: "stop", Hint: "use stix down"}, "kubernetes does not support stop: use stix down"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestScopeCovers(t *testing.T) {
	t.Parallel()
	zone := Scope{LevelZone, "aws", "us-east-1", "us-east-1a"}
	region := Scope{LevelRegion, "aws", "us-east-1", ""}
	cloud := Scope{Level: LevelCloud, Cloud: "aws"}
	for _, tc := range []struct {
		s                   Scope
		cloud, region, zone string
		want                bool
	}{
		{zone, "aws", "us-east-1", "us-east-1a", true},
		{zone, "aws", "us-east-1", "us-east-1b", false},
		{region, "aws", "us-east-1", "us-east-1b", true},
		{region, "aws", "us-west-2", "us-west-2a", false},
		{cloud, "AWS", "eu-west-1", "", true},
		{cloud, "gcp", "us-east1", "", false},
		{Scope{}, "aws", "us-east-1", "us-east-1a", false},
	} {
		if got := tc.s.Covers(tc.cloud, tc.region, tc.zone); got != tc.want {
			t.Errorf("%v.Covers(%s, %s, %s) = %v, want %v", tc.s, tc.cloud, tc.region, tc.zone, got, tc.want)
		}
	}
	if zone.String() != "aws/us-east-1/us-east-1a" || region.String() != "aws/us-east-1" || cloud.String() != "aws" || (Scope{}).String() != "none" {
		t.Errorf("Scope strings: %s, %s, %s, %s", zone, region, cloud, Scope{})
	}
}

func TestAmounts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		got, want string
	}{
		{Amount{Value: 4}.String(), "4"},
		{Amount{Value: 4, OrMore: true}.String(), "4+"},
		{Amount{Value: 0.5}.String(), "0.5"},
		{Memory{Value: 8, PerCPU: true}.String(), "8x"},
		{Memory{Value: 16, OrMore: true}.String(), "16+"},
		{Memory{Value: 4, PerCPU: true}.GB(3).String(), "12"},
		{Memory{Value: 32, OrMore: true}.GB(3).String(), "32+"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if (Requirements{}).Nodes() != 1 || (Requirements{NumNodes: 3}).Nodes() != 3 {
		t.Error("Nodes() must default to 1")
	}
}

func TestClusterInfoJSONRoundTrip(t *testing.T) {
	t.Parallel()
	in := ClusterInfo{
		Cloud: "local", Region: "local", Secret: "s3cret", Handle: json.RawMessage(`{"dir":"/x"}`),
		Nodes: []NodeInfo{
			{Rank: 0, InternalIP: "127.9.0.1", AgentAddr: "127.9.0.1:4000", Home: "/h0", Resources: Resources{CPUs: 2, Accelerators: map[string]float64{"H100": 8}}},
			{Rank: 1, InternalIP: "127.9.0.2", AgentAddr: "127.9.0.2:4001", Home: "/h1"},
		},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out ClusterInfo
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip changed the info:\n%+v\n%+v", in, out)
	}
	if got := out.InternalIPs(); !reflect.DeepEqual(got, []string{"127.9.0.1", "127.9.0.2"}) {
		t.Errorf("InternalIPs() = %q", got)
	}
	if h, ok := out.Head(); !ok || h.Rank != 0 {
		t.Errorf("Head() = %+v, %v", h, ok)
	}
	if _, ok := (*ClusterInfo)(nil).Head(); ok {
		t.Error("Head() of nil info: want ok=false")
	}
}

func TestParseSelfStopMark(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]SelfStopMark{
		"": SelfStopNone, "\n": SelfStopNone, "stop\n": SelfStopStop, "down\n": SelfStopDown, " down ": SelfStopDown,
		"reboot": SelfStopStop, // an unknown word never tears anything down
	} {
		if got := ParseSelfStopMark(in); got != want {
			t.Errorf("ParseSelfStopMark(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRecordedMarkAndSpotAutostop(t *testing.T) {
	for _, tc := range []struct {
		stopped, autodown bool
		want              SelfStopMark
	}{{false, false, SelfStopNone}, {false, true, SelfStopNone}, {true, false, SelfStopStop}, {true, true, SelfStopDown}} {
		if got := RecordedMark(tc.stopped, tc.autodown); got != tc.want {
			t.Errorf("RecordedMark(%v, %v) = %q, want %q", tc.stopped, tc.autodown, got, tc.want)
		}
	}
	var ue *UnsupportedError
	if err := SpotAutostopError("gcp", ""); !errors.As(err, &ue) || !strings.Contains(err.Error(), "use autodown (-i N --down)") {
		t.Errorf("SpotAutostopError = %v", err)
	}
	if err := SpotAutostopError("azure", "Spot VMs are deleted"); !strings.Contains(err.Error(), "--down): Spot VMs are deleted") {
		t.Errorf("SpotAutostopError with why = %v", err)
	}
}
