package lambda

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/testutil/fakelambda"
)

// TestClassify: Lambda's error codes become the failover errors SkyPilot's Lambda failover reads: capacity rules
// out the region (Lambda has no zones), a quota the whole cloud (it is the account's), a rejected key the cloud.
func TestClassify(t *testing.T) {
	t.Parallel()
	place := cloud.Place{Cloud: Name, Region: "us-east-1"}
	for _, tc := range []struct {
		err  *apiError
		want cloud.Scope
	}{
		{&apiError{Status: 503, Code: "instance-operations/launch/insufficient-capacity"}, cloud.Scope{Level: cloud.LevelRegion, Cloud: Name, Region: "us-east-1"}},
		{&apiError{Status: 400, Code: "global/quota-exceeded"}, cloud.Scope{Level: cloud.LevelCloud, Cloud: Name}},
		{&apiError{Status: 401, Code: "global/invalid-api-key"}, cloud.Scope{Level: cloud.LevelCloud, Cloud: Name}},
		{&apiError{Status: 403, Code: "global/account-inactive"}, cloud.Scope{Level: cloud.LevelCloud, Cloud: Name}},
		{&apiError{Status: 400, Code: "global/invalid-parameters"}, cloud.Scope{Level: cloud.LevelCloud, Cloud: Name}},
		{&apiError{Status: 500, Code: "global/unknown"}, cloud.Scope{}},
	} {
		if got := cloud.ScopeOf(classify("launch", place, tc.err)); got != tc.want {
			t.Errorf("%s: scope %v, want %v", tc.err.Code, got, tc.want)
		}
	}
	var auth *cloud.AuthError
	if !errors.As(classify("x", place, &apiError{Status: 401, Code: "global/invalid-api-key"}), &auth) {
		t.Error("a rejected key is not an *AuthError")
	}
	if got := cloud.ScopeOf(classify("x", place, context.Canceled)); got.Level != cloud.LevelNone {
		t.Errorf("a cancelled call rules out %v", got)
	}
}

// TestVerifyCredentials: one read-only call; a key Lambda rejects is an *AuthError naming the fix, a missing key
// too, and the key file is read as SkyPilot reads it.
func TestVerifyCredentials(t *testing.T) {
	fake := fakelambda.New(t)
	t.Setenv(EndpointEnv, fake.URL)
	t.Setenv(APIKeyEnv, fakelambda.APIKey)
	p, err := New(Options{Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.VerifyCredentials(ctx); err != nil {
		t.Fatalf("a good key: %v", err)
	}
	fake.SetAPIKeys("other")
	var auth *cloud.AuthError
	if err := p.VerifyCredentials(ctx); !errors.As(err, &auth) {
		t.Fatalf("a rejected key: %v, want an *AuthError", err)
	}
	fake.SetAPIKeys("from-file")
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv(APIKeyEnv, "")
	if err := p.VerifyCredentials(ctx); !errors.As(err, &auth) {
		t.Fatalf("no key: %v, want an *AuthError", err)
	}
	if err := os.MkdirAll(filepath.Join(home, ".lambda_cloud"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".lambda_cloud", "lambda_keys"), []byte("api_key = from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.VerifyCredentials(ctx); err != nil {
		t.Fatalf("the key of ~/.lambda_cloud/lambda_keys: %v", err)
	}
	if got := fake.Calls(); len(got) != 2 || got[0] != "instances" {
		t.Errorf("calls %v: want one listing of instances per accepted check", got)
	}
}

// TestEndpoints: each port at the head's public address.
func TestEndpoints(t *testing.T) {
	t.Parallel()
	p, err := New(Options{Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	info := &cloud.ClusterInfo{Nodes: []cloud.NodeInfo{{ExternalIP: "203.0.113.7", InternalIP: "10.0.0.2"}, {ExternalIP: "203.0.113.8"}}}
	got, err := p.Endpoints(context.Background(), info, []int{8080, 22})
	if err != nil || got[8080] != "203.0.113.7:8080" || got[22] != "203.0.113.7:22" {
		t.Errorf("endpoints %v, %v", got, err)
	}
}

// TestFoundByName: with no record of a cluster (no state, no handle), Query and Terminate find its instances by
// the name they carry, and never another cluster's.
func TestFoundByName(t *testing.T) {
	fake := fakelambda.New(t, fakelambda.Type{Name: "gpu_1x_a10", VCPUs: 30, MemoryGiB: 200, GPUs: 1, PriceCents: 75, Regions: []string{"us-east-1"}})
	t.Setenv(EndpointEnv, fake.URL)
	t.Setenv(APIKeyEnv, fakelambda.APIKey)
	p, err := New(Options{Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := newClient()
	if err != nil {
		t.Fatal(err)
	}
	fake.AddSSHKey("k", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyFakeKeyFakeKeyFakeKeyFakeKeyFakeKey1 k")
	if _, err := c.launch(ctx, "us-east-1", "gpu_1x_a10", "k", instanceName("c1"), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.instances(ctx); err != nil { // the fake shows an instance booting once
		t.Fatal(err)
	}
	states, err := p.Query(ctx, cloud.ClusterRef{Name: "c1"})
	if err != nil || len(states) != 1 || states[0].Status != cloud.NodeRunning {
		t.Fatalf("query c1: %+v, %v", states, err)
	}
	if states, err := p.Query(ctx, cloud.ClusterRef{Name: "c2"}); err != nil || len(states) != 0 {
		t.Errorf("query c2 (none): %+v, %v", states, err)
	}
	if err := p.Terminate(ctx, cloud.ClusterRef{Name: "c1"}); err != nil {
		t.Fatal(err)
	}
	if n, _ := fake.Live(); n != 0 {
		t.Errorf("after terminate: %d instances", n)
	}
}
