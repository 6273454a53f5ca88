package do

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/testutil/fakedo"
)

// TestClassify: DigitalOcean's error payloads become the failover errors: a size or region not available rules
// out the region (DigitalOcean has no zones), the droplet limit and a rejected token the cloud (both are the
// account's), an invalid image the cloud as configuration.
func TestClassify(t *testing.T) {
	t.Parallel()
	place := cloud.Place{Cloud: Name, Region: "nyc1"}
	region := cloud.Scope{Level: cloud.LevelRegion, Cloud: Name, Region: "nyc1"}
	whole := cloud.Scope{Level: cloud.LevelCloud, Cloud: Name}
	for _, tc := range []struct {
		err  *apiError
		want cloud.Scope
		as   any
	}{
		{&apiError{Status: 422, ID: "unprocessable_entity", Message: fakedo.SizeUnavailable}, region, new(*cloud.CapacityError)},
		{&apiError{Status: 422, ID: "unprocessable_entity", Message: fakedo.RegionUnavailable}, region, new(*cloud.CapacityError)},
		{&apiError{Status: 422, ID: "unprocessable_entity", Message: fakedo.DropletLimit}, whole, new(*cloud.QuotaError)},
		{&apiError{Status: 422, ID: "unprocessable_entity", Message: fakedo.InvalidImage}, whole, new(*cloud.InvalidConfigError)},
		{&apiError{Status: 401, ID: "unauthorized", Message: "Unable to authenticate you"}, whole, new(*cloud.AuthError)},
		{&apiError{Status: 403, ID: "forbidden", Message: "You do not have access for the attempted action."}, whole, new(*cloud.AuthError)},
		{&apiError{Status: 429, ID: "too_many_requests", Message: "API Rate limit exceeded."}, whole, new(*cloud.CapacityError)},
		{&apiError{Status: 500, ID: "server_error", Message: "Server Error"}, cloud.Scope{}, nil},
	} {
		err := classify("create droplets", place, tc.err)
		if got := cloud.ScopeOf(err); got != tc.want {
			t.Errorf("%d %s: scope %v, want %v", tc.err.Status, tc.err.Message, got, tc.want)
		}
		if tc.as != nil && !errors.As(err, tc.as) {
			t.Errorf("%d %s: %T, want %T", tc.err.Status, tc.err.Message, err, tc.as)
		}
		if !strings.Contains(err.Error(), tc.err.Message) {
			t.Errorf("%v does not quote DigitalOcean's message", err)
		}
	}
	if got := cloud.ScopeOf(classify("x", place, context.Canceled)); got.Level != cloud.LevelNone {
		t.Errorf("a cancelled call rules out %v", got)
	}
}

// TestCheck: the token in DIGITALOCEAN_ACCESS_TOKEN, else doctl's config.yaml (its access-token, or the current
// context's, under $XDG_CONFIG_HOME too); a config without one, or none, says how to make one.
func TestCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file, data string
		vars             map[string]string
		want             string // "" when disabled
	}{
		{name: "env", vars: map[string]string{TokenEnv: "dop_v1_x"}, want: "API token in DIGITALOCEAN_ACCESS_TOKEN"},
		{name: "doctl", file: ".config/doctl/config.yaml", data: "access-token: dop_v1_x\ncontext: default\n", want: "~/.config/doctl/config.yaml"},
		{name: "context", file: ".config/doctl/config.yaml", data: "access-token: \"\"\nauth-contexts:\n  work: dop_v1_w\n  home: dop_v1_h\ncontext: work\n", want: "~/.config/doctl/config.yaml"},
		{name: "xdg", file: "xdg/doctl/config.yaml", data: "access-token: dop_v1_x\n", vars: map[string]string{"XDG_CONFIG_HOME": "HOME/xdg"}, want: "~/xdg/doctl/config.yaml"},
		{name: "macos", file: "Library/Application Support/doctl/config.yaml", data: "access-token: dop_v1_x\n", want: "Application Support"},
		{name: "no token", file: ".config/doctl/config.yaml", data: "context: default\noutput: text\n"},
		{name: "nothing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			if tc.file != "" {
				path := filepath.Join(home, tc.file)
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(tc.data), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			env := &credcheck.Env{Home: home, Getenv: func(k string) string { return strings.ReplaceAll(tc.vars[k], "HOME", home) }}
			res := check(context.Background(), env)
			if tc.want == "" {
				if res.Enabled || !strings.Contains(res.Reason, "doctl auth init") {
					t.Errorf("check = %+v, want disabled saying how to fix it", res)
				}
				return
			}
			if !res.Enabled || !strings.Contains(res.Detail, tc.want) {
				t.Errorf("check = %+v, want enabled by %s", res, tc.want)
			}
		})
	}
	if got := configToken("access-token: a\nauth-contexts:\n  work: w\ncontext: work\n"); got != "w" {
		t.Errorf("the current context's token: %q", got)
	}
}

// newTest is the provider against a fake DigitalOcean with the sizes of testdata/vms.csv, the token set, and a
// catalog of testdata/vms.csv; the agent binary is a stand-in (these tests never reach a node).
func newTest(t *testing.T) (*Provider, *fakedo.Server) {
	fake := fakedo.New(t, fakedo.Size{Slug: "s-4vcpu-8gb", VCPUs: 4, Memory: 8192, Price: 0.07143, Regions: []string{"nyc1", "sfo3"}})
	t.Setenv(EndpointEnv, fake.URL)
	t.Setenv(TokenEnv, fakedo.Token)
	cat := t.TempDir()
	data, err := os.ReadFile("testdata/vms.csv")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(cat, "do"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cat, "do", "vms.csv"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("STIX_CATALOG_DIR", cat)
	t.Setenv("STIX_CATALOG_URL", "http://127.0.0.1:1/catalogs")
	p, err := New(Options{Home: t.TempDir(), AgentBinary: func() (string, error) { return "/bin/true", nil }})
	if err != nil {
		t.Fatal(err)
	}
	return p, fake
}

// TestVerifyCredentials: one read-only call (GET /v2/account); a token DigitalOcean rejects, or none, is an
// *AuthError naming the fix.
func TestVerifyCredentials(t *testing.T) {
	p, fake := newTest(t)
	ctx := context.Background()
	if err := p.VerifyCredentials(ctx); err != nil {
		t.Fatalf("a good token: %v", err)
	}
	fake.SetTokens("other")
	var auth *cloud.AuthError
	if err := p.VerifyCredentials(ctx); !errors.As(err, &auth) || !strings.Contains(err.Error(), "Unable to authenticate you") {
		t.Fatalf("a rejected token: %v, want an *AuthError quoting DigitalOcean", err)
	}
	t.Setenv(TokenEnv, "")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", "")
	if err := p.VerifyCredentials(ctx); !errors.As(err, &auth) || !strings.Contains(err.Error(), "doctl auth init") {
		t.Fatalf("no token: %v, want an *AuthError saying how to make one", err)
	}
	if got := fake.Calls(); len(got) != 1 || got[0] != "account" {
		t.Errorf("calls %v: want one read of the account per accepted check", got)
	}
}

func launchReq(region string) cloud.ProvisionRequest {
	return cloud.ProvisionRequest{Cluster: cloud.ClusterRef{Name: "c1"},
		Offer:        cloud.Offer{Cloud: Name, Region: region, InstanceType: "s-4vcpu-8gb"},
		Requirements: cloud.Requirements{NumNodes: 2, Ports: []string{"8080"}}}
}

// TestLaunchFailures: what makes a launch fail is typed, rules out what it should, and leaves nothing behind on
// DigitalOcean (no droplet, firewall or SSH key) nor in stix's state: a droplet limit of zero, a size the
// region does not offer (from the sizes listing, and from the create call's real payload), an image that does
// not exist, a token DigitalOcean rejects.
func TestLaunchFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script func(*fakedo.Server)
		req    func(*cloud.ProvisionRequest)
		as     any
		level  cloud.Level
		says   string
	}{
		{name: "droplet limit zero", script: func(f *fakedo.Server) { f.SetDropletLimit(0) },
			as: new(*cloud.QuotaError), level: cloud.LevelCloud, says: "droplet limit is 0"},
		{name: "size not in region", req: func(r *cloud.ProvisionRequest) { r.Offer.Region = "nyc2" },
			as: new(*cloud.CapacityError), level: cloud.LevelRegion, says: "not available in nyc2"},
		{name: "region not in the catalog", req: func(r *cloud.ProvisionRequest) { r.Offer.Region = "mars1" },
			as: new(*cloud.InvalidConfigError), level: cloud.LevelCloud, says: "mars1"},
		{name: "size gone from region", script: func(f *fakedo.Server) { f.SetSizeRegions("s-4vcpu-8gb", "sfo3") },
			as: new(*cloud.CapacityError), level: cloud.LevelRegion, says: "not available in nyc1"},
		{name: "create says size unavailable", script: func(f *fakedo.Server) {
			f.Fail("create", "nyc1", http.StatusUnprocessableEntity, "unprocessable_entity", fakedo.SizeUnavailable)
		}, as: new(*cloud.CapacityError), level: cloud.LevelRegion, says: fakedo.SizeUnavailable},
		{name: "create says droplet limit", script: func(f *fakedo.Server) {
			f.Fail("create", "", http.StatusUnprocessableEntity, "unprocessable_entity", fakedo.DropletLimit)
		}, as: new(*cloud.QuotaError), level: cloud.LevelCloud, says: "droplet limit"},
		{name: "no such image", req: func(r *cloud.ProvisionRequest) { r.Requirements.ImageID = "ubuntu-99-04-x64" },
			as: new(*cloud.InvalidConfigError), level: cloud.LevelCloud, says: "image ubuntu-99-04-x64 does not exist"},
		{name: "docker image", req: func(r *cloud.ProvisionRequest) { r.Requirements.ImageID = "docker:ubuntu" },
			as: new(*cloud.InvalidConfigError), level: cloud.LevelCloud, says: "DigitalOcean images"},
		{name: "rejected token", script: func(f *fakedo.Server) { f.SetTokens("other") },
			as: new(*cloud.AuthError), level: cloud.LevelCloud, says: "unauthorized"},
		{name: "bad port", req: func(r *cloud.ProvisionRequest) { r.Requirements.Ports = []string{"70000"} },
			as: new(*cloud.InvalidConfigError), level: cloud.LevelCloud, says: "70000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, fake := newTest(t)
			if tc.script != nil {
				tc.script(fake)
			}
			req := launchReq("nyc1")
			if tc.req != nil {
				tc.req(&req)
			}
			_, err := p.Provision(context.Background(), req)
			if err == nil || !errors.As(err, tc.as) || cloud.ScopeOf(err).Level != tc.level || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Provision = %v (scope %v), want %T of level %v saying %q", err, cloud.ScopeOf(err), tc.as, tc.level, tc.says)
			}
			fake.SetTokens(fakedo.Token)
			if d, fw, keys := fake.Live(); d != 0 || fw != 0 || keys != 0 {
				t.Errorf("left behind: %d droplets, %d firewalls, %d SSH keys", d, fw, keys)
			}
			if _, err := os.Stat(p.m.StatePath("c1")); !os.IsNotExist(err) {
				t.Errorf("stix kept state of the failed cluster: %v", err)
			}
		})
	}
}

// TestRateLimited: a 429 is retried; one that lasts is a capacity error of the whole cloud.
func TestRateLimited(t *testing.T) {
	_, fake := newTest(t)
	c, err := newClient()
	if err != nil {
		t.Fatal(err)
	}
	c.retryWait = 1
	fake.Fail("account", "", http.StatusTooManyRequests, "too_many_requests", "API Rate limit exceeded.")
	_, err = c.account(context.Background())
	var capacity *cloud.CapacityError
	if err := classify("read the account", cloud.Place{Cloud: Name}, err); !errors.As(err, &capacity) || capacity.Region != "" {
		t.Errorf("a lasting 429: %v, want a capacity error of DigitalOcean", err)
	}
	if n := len(fake.Calls()); n != rateTries {
		t.Errorf("%d calls, want %d tries", n, rateTries)
	}
}

// TestFoundByTag: with no record of a cluster (no state, no handle), Query and Terminate find its droplets by
// the tag they carry and its firewall by name, and never another cluster's.
func TestFoundByTag(t *testing.T) {
	p, fake := newTest(t)
	ctx := context.Background()
	c, err := newClient()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.createFirewall(ctx, firewallRequest("c1", nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.create(ctx, createRequest{Names: []string{dropletName("c1", 0)}, Region: "nyc1", Size: "s-4vcpu-8gb",
		Image: "ubuntu-22-04-x64", Tags: []string{clusterTag("c1")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.tagged(ctx, clusterTag("c1")); err != nil { // the fake shows a droplet booting once
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
	if d, fw, _ := fake.Live(); d != 0 || fw != 0 {
		t.Errorf("after terminate: %d droplets, %d firewalls", d, fw)
	}
}

// TestNames: what names droplets, tags and the firewall is a hostname part, distinct for cluster names that
// differ only in '.' or '_'.
func TestNames(t *testing.T) {
	t.Parallel()
	if a, b := label("a.b"), label("a-b"); a == b || strings.ContainsAny(a, "._") {
		t.Errorf("labels %q and %q", a, b)
	}
	if got := dropletName("x_y", 1); strings.ContainsAny(got, "._") || !strings.HasSuffix(got, "-1") {
		t.Errorf("droplet name %q", got)
	}
	for size, want := range map[string]string{"gpu-h100x1-80gb": "gpu-h100x1-base", "gpu-h100x8-640gb": "gpu-h100x8-base", "s-4vcpu-8gb": "ubuntu-22-04-x64"} {
		if got := defaultImage(size); got != want {
			t.Errorf("default image of %s: %s, want %s", size, got, want)
		}
	}
}
