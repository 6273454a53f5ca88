package paperspace

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/testutil/fakepaperspace"
)

// TestClassify: Paperspace's answers become the failover errors: capacity rules out the region (Paperspace has
// no zones), a quota the whole cloud (its limits are the account's), a rejected key the cloud, an unknown
// template or machine type the cloud as invalid configuration.
func TestClassify(t *testing.T) {
	t.Parallel()
	place := cloud.Place{Cloud: Name, Region: "East Coast (NY2)"}
	region := cloud.Scope{Level: cloud.LevelRegion, Cloud: Name, Region: "East Coast (NY2)"}
	whole := cloud.Scope{Level: cloud.LevelCloud, Cloud: Name}
	for _, tc := range []struct {
		err  *apiError
		want cloud.Scope
	}{
		{&apiError{Status: 400, Code: "BAD_REQUEST", Message: fakepaperspace.NoCapacity}, region},
		{&apiError{Status: 400, Code: "BAD_REQUEST", Message: "Machine type A100-80G is not available in region West Coast (CA1)"}, region},
		{&apiError{Status: 400, Code: "BAD_REQUEST", Message: fakepaperspace.QuotaZero}, whole},
		{&apiError{Status: 401, Code: "UNAUTHORIZED", Message: "Invalid API key"}, whole},
		{&apiError{Status: 403, Code: "FORBIDDEN", Message: "Forbidden"}, whole},
		{&apiError{Status: 404, Code: "NOT_FOUND", Message: "Template tzzzzzzz not found"}, whole},
		{&apiError{Status: 429, Code: "TOO_MANY_REQUESTS", Message: "rate limited"}, cloud.Scope{}},
		{&apiError{Status: 500, Code: "INTERNAL_SERVER_ERROR"}, cloud.Scope{}},
	} {
		if got := cloud.ScopeOf(classify("create machine", place, tc.err)); got != tc.want {
			t.Errorf("%d %s: scope %v, want %v", tc.err.Status, tc.err.Message, got, tc.want)
		}
	}
	var auth *cloud.AuthError
	if !errors.As(classify("x", place, &apiError{Status: 401, Code: "UNAUTHORIZED"}), &auth) {
		t.Error("a rejected key is not an *AuthError")
	}
	if got := cloud.ScopeOf(classify("x", place, context.Canceled)); got.Level != cloud.LevelNone {
		t.Errorf("a cancelled call rules out %v", got)
	}
	if got := cloud.ScopeOf(classify("x", place, errors.New("connection refused"))); got != whole {
		t.Errorf("an unreachable API rules out %v, want the cloud", got)
	}
}

// TestVerifyCredentials: one read-only call; a key Paperspace rejects is an *AuthError naming the fix, a missing
// key too, and ~/.paperspace/config.json is read as SkyPilot reads it.
func TestVerifyCredentials(t *testing.T) {
	fake := fakepaperspace.New(t)
	t.Setenv(EndpointEnv, fake.URL)
	t.Setenv(APIKeyEnv, fakepaperspace.APIKey)
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
	if err := p.VerifyCredentials(ctx); !errors.As(err, &auth) || !strings.Contains(err.Error(), "stix check -v paperspace") {
		t.Fatalf("a rejected key: %v, want an *AuthError naming the fix", err)
	}
	fake.SetAPIKeys("from-file")
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv(APIKeyEnv, "")
	if err := p.VerifyCredentials(ctx); !errors.As(err, &auth) || !strings.Contains(err.Error(), "config.json") {
		t.Fatalf("no key: %v, want an *AuthError naming ~/.paperspace/config.json", err)
	}
	if err := os.MkdirAll(filepath.Join(home, ".paperspace"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".paperspace", "config.json"), []byte(`{"apiKey": "from-file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.VerifyCredentials(ctx); err != nil {
		t.Fatalf("the key of ~/.paperspace/config.json: %v", err)
	}
	if got := fake.Calls(); len(got) != 2 || got[0] != "list" {
		t.Errorf("calls %v: want one listing of machines per accepted check", got)
	}
}

// TestRateLimited: an answer of HTTP 429 is retried, then the call succeeds.
func TestRateLimited(t *testing.T) {
	fake := fakepaperspace.New(t)
	t.Setenv(EndpointEnv, fake.URL)
	t.Setenv(APIKeyEnv, fakepaperspace.APIKey)
	c, err := newClient()
	if err != nil {
		t.Fatal(err)
	}
	c.retryWait = time.Millisecond
	fake.Fail("list", "", http.StatusTooManyRequests, "TOO_MANY_REQUESTS", "Your API requests are being rate limited.")
	if _, err := c.machines(context.Background()); err == nil || !strings.Contains(err.Error(), "HTTP 429") {
		t.Fatalf("always rate limited: %v", err)
	}
	if n := len(fake.Calls()); n != rateTries {
		t.Errorf("%d calls, want %d tries", n, rateTries)
	}
}

// TestDiskAndTemplates: disks round up to Paperspace's sizes; each machine type gets SkyPilot's template unless
// the task names one; image_id must be a template id.
func TestDiskAndTemplates(t *testing.T) {
	t.Parallel()
	for in, want := range map[int]int{0: 500, 50: 100, 100: 100, 256: 500, 1001: 2000} {
		if got, err := diskSize(in); err != nil || got != want {
			t.Errorf("diskSize(%d) = %d, %v; want %d", in, got, err, want)
		}
	}
	var inv *cloud.InvalidConfigError
	if _, err := diskSize(4000); !errors.As(err, &inv) || !strings.Contains(err.Error(), "2000") {
		t.Errorf("diskSize(4000): %v", err)
	}
	for _, tc := range [][3]string{{"A100-80G", "", "tqqsxr6b"}, {"H100x8", "", "t7vp562h"}, {"C5", "", "t0nspur5"},
		{"A4000", "", "twnlo3zj"}, {"A4000", "tabcdefg", "tabcdefg"}} {
		if got := templateFor(tc[0], tc[1]); got != tc[2] {
			t.Errorf("templateFor(%s, %q) = %s, want %s", tc[0], tc[1], got, tc[2])
		}
	}
	p, err := New(Options{Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckImage("tqqsxr6b"); err != nil {
		t.Error(err)
	}
	if err := p.CheckImage("docker:ubuntu"); err == nil || !strings.Contains(err.Error(), "template id") {
		t.Errorf("a container image: %v", err)
	}
}

// newProvider is a provider reaching fake, with the test catalog.
func newProvider(t *testing.T, fake *fakepaperspace.Server) *Provider {
	t.Helper()
	t.Setenv(EndpointEnv, fake.URL)
	t.Setenv(APIKeyEnv, fakepaperspace.APIKey)
	dir := t.TempDir()
	fakepaperspace.WriteCatalog(t, dir)
	p, err := New(Options{Home: t.TempDir(), AgentBinary: func() (string, error) { return "/bin/true", nil },
		Catalog: func(ctx context.Context) (*catalog.Cloud, error) {
			cat, err := catalog.Load(ctx, catalog.Dir(dir), Name)
			if err != nil {
				return nil, err
			}
			c, _ := cat.Cloud(Name)
			return c, nil
		},
		PollInterval: 10 * time.Millisecond, WaitTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFailedLaunchLeavesNothing: a launch whose second machine finds no capacity is a *CapacityError of the
// region, and leaves no machine, network or startup script behind; one Paperspace refuses for an unknown template
// is invalid configuration, also leaving nothing.
func TestFailedLaunchLeavesNothing(t *testing.T) {
	fake := fakepaperspace.New(t, fakepaperspace.CatalogTypes...)
	p := newProvider(t, fake)
	ctx := context.Background()
	req := cloud.ProvisionRequest{Cluster: cloud.ClusterRef{Name: "c1"},
		Offer:        cloud.Offer{Cloud: Name, Region: "East Coast (NY2)", InstanceType: "C5"},
		Requirements: cloud.Requirements{NumNodes: 3}}
	fake.FailAfter(1, "create", "East Coast (NY2)", http.StatusBadRequest, "BAD_REQUEST", fakepaperspace.NoCapacity)
	_, err := p.Provision(ctx, req)
	var capErr *cloud.CapacityError
	if !errors.As(err, &capErr) || capErr.Region != "East Coast (NY2)" || !strings.Contains(err.Error(), "out of capacity") {
		t.Fatalf("provision: %v, want a *CapacityError of East Coast (NY2)", err)
	}
	if m, n, s := fake.Live(); m != 0 || n != 0 || s != 0 {
		t.Errorf("left behind: %d machines, %d networks, %d startup scripts", m, n, s)
	}
	fake.Heal()
	req.Requirements = cloud.Requirements{ImageID: "tzzzzzzz"}
	_, err = p.Provision(ctx, req)
	var inv *cloud.InvalidConfigError
	if !errors.As(err, &inv) || !strings.Contains(err.Error(), "Template tzzzzzzz not found") {
		t.Fatalf("an unknown template: %v, want an *InvalidConfigError naming it", err)
	}
	if m, n, s := fake.Live(); m != 0 || n != 0 || s != 0 {
		t.Errorf("left behind: %d machines, %d networks, %d startup scripts", m, n, s)
	}
}

// TestFoundByName: with no record of a cluster (no state, no handle), Query and Terminate find its machines by the
// name they carry, over several pages of the list, and never another cluster's; Terminate deletes the network.
func TestFoundByName(t *testing.T) {
	fake := fakepaperspace.New(t, fakepaperspace.CatalogTypes...)
	p := newProvider(t, fake)
	ctx := context.Background()
	c, err := newClient()
	if err != nil {
		t.Fatal(err)
	}
	nw, err := c.createNetwork(ctx, clusterName("c1"), "East Coast (NY2)")
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{machineName("c1", 0), machineName("c1", 1), machineName("c10", 0), "c1-other"} {
		if _, err := c.createMachine(ctx, createMachine{Name: name, MachineType: "C5", Region: "East Coast (NY2)", DiskSize: 100,
			TemplateID: "t0nspur5", NetworkID: map[bool]string{true: nw.ID}[i < 2]}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.machines(ctx); err != nil { // the fake shows a machine provisioning once
		t.Fatal(err)
	}
	states, err := p.Query(ctx, cloud.ClusterRef{Name: "c1"})
	if err != nil || len(states) != 2 || states[0].Status != cloud.NodeRunning || states[1].Status != cloud.NodeRunning {
		t.Fatalf("query c1: %+v, %v", states, err)
	}
	if states, err := p.Query(ctx, cloud.ClusterRef{Name: "c2"}); err != nil || len(states) != 0 {
		t.Errorf("query c2 (none): %+v, %v", states, err)
	}
	if err := p.Terminate(ctx, cloud.ClusterRef{Name: "c1"}); err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, m := range fake.Machines() {
		left = append(left, m.Name)
	}
	if m, n, _ := fake.Live(); m != 2 || n != 0 || strings.Join(left, ",") != machineName("c10", 0)+",c1-other" {
		t.Errorf("after terminate: machines %v, %d networks; want c10's and c1-other, no network", left, n)
	}
}
