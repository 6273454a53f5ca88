package runpod

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
	"github.com/stix-run/stix/internal/testutil/fakerunpod"
)

// TestClassify: RunPod's answers become failover errors: no machine left rules out the data center (the zone),
// a rejected key the cloud, a bad request the cloud as invalid configuration.
func TestClassify(t *testing.T) {
	t.Parallel()
	place := cloud.Place{Cloud: Name, Region: "US", Zone: "US-GA-1"}
	for _, tc := range []struct {
		err  *apiError
		want cloud.Scope
	}{
		{&apiError{500, fakerunpod.NoCapacity}, cloud.Scope{Level: cloud.LevelZone, Cloud: Name, Region: "US", Zone: "US-GA-1"}},
		{&apiError{400, "There are not enough free GPUs on the host machine to start this pod."}, cloud.Scope{Level: cloud.LevelZone, Cloud: Name, Region: "US", Zone: "US-GA-1"}},
		{&apiError{401, "Unauthorized"}, cloud.Scope{Level: cloud.LevelCloud, Cloud: Name}},
		{&apiError{403, "forbidden"}, cloud.Scope{Level: cloud.LevelCloud, Cloud: Name}},
		{&apiError{400, "invalid gpuTypeIds"}, cloud.Scope{Level: cloud.LevelCloud, Cloud: Name}},
		{&apiError{500, "internal error"}, cloud.Scope{}},
	} {
		if got := cloud.ScopeOf(classify("create pod", place, tc.err)); got != tc.want {
			t.Errorf("%d %s: scope %v, want %v", tc.err.Status, tc.err.Message, got, tc.want)
		}
	}
}

// TestShape: the catalog's instance types become the pod's compute request.
func TestShape(t *testing.T) {
	t.Parallel()
	var in createPod
	if err := shape("2x_A100-80GB_SECURE", &in); err != nil || in.ComputeType != "GPU" || in.GPUCount != 2 ||
		in.GPUTypeIDs[0] != "NVIDIA A100 80GB PCIe" || in.CloudType != "SECURE" {
		t.Errorf("GPU type: %+v, %v", in, err)
	}
	in = createPod{}
	if err := shape("cpu3c-4-8", &in); err != nil || in.ComputeType != "CPU" || in.VCPUCount != 4 || in.CPUFlavorIDs[0] != "cpu3c" {
		t.Errorf("CPU type: %+v, %v", in, err)
	}
	for _, bad := range []string{"1x_NOSUCHGPU_SECURE", "m6i.large", ""} {
		if err := shape(bad, &createPod{}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestVerifyCredentialsAndEndpoints: one read-only call checks the key (RUNPOD_API_KEY, else
// ~/.runpod/config.toml); the endpoints of a pod's ports are its public IP and mapped ports.
func TestVerifyCredentialsAndEndpoints(t *testing.T) {
	fake := fakerunpod.New(t)
	t.Setenv(EndpointEnv, fake.URL)
	t.Setenv(APIKeyEnv, fakerunpod.APIKey)
	p, err := New(Options{Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.VerifyCredentials(ctx); err != nil {
		t.Fatalf("a good key: %v", err)
	}
	fake.SetAPIKeys("from-file")
	var auth *cloud.AuthError
	if err := p.VerifyCredentials(ctx); !errors.As(err, &auth) {
		t.Fatalf("a rejected key: %v, want an *AuthError", err)
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv(APIKeyEnv, "")
	if err := os.MkdirAll(filepath.Join(home, ".runpod"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".runpod", "config.toml"), []byte("[default]\napi_key = \"from-file\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.VerifyCredentials(ctx); err != nil {
		t.Fatalf("the key of ~/.runpod/config.toml: %v", err)
	}

	c, err := newClient()
	if err != nil {
		t.Fatal(err)
	}
	pd, err := c.create(ctx, createPod{Name: "e-1", ImageName: "img", ComputeType: "CPU", Ports: []string{"22/tcp", "8080/tcp"}})
	if err != nil {
		t.Fatal(err)
	}
	if pd, err = c.pod(ctx, pd.ID); err != nil { // the first read shows a starting pod
		t.Fatal(err)
	}
	info, err := p.m.Info("e", "US", "", &vm.Cluster{}, handle{Cluster: "e", PodIDs: []string{pd.ID}, SSHPorts: []int{pd.PortMappings["22"]}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Endpoints(ctx, info, []int{8080})
	want := net.JoinHostPort("127.0.0.1", strconv.Itoa(fake.Pods()[0].Mapped[8080]))
	if err != nil || got[8080] != want {
		t.Errorf("endpoints %v, %v; want 8080 at %s", got, err, want)
	}
	if _, err := p.Endpoints(ctx, info, []int{9090}); err == nil {
		t.Error("port 9090, not exposed, has an endpoint")
	}
}
