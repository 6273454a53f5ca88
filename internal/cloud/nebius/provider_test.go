package nebius

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/testutil/fakenebius"
)

// TestWire: messages stix writes read back field by field, nested ones too; a truncated one is an error.
func TestWire(t *testing.T) {
	t.Parallel()
	b := msg(nil).str(1, "a").int(2, 300).sub(3, msg(nil).str(1, "in")).sub(4, nil).bool(5, true).str(6, "")
	var got []string
	err := walk(b, func(f field) error {
		switch f.num {
		case 1, 6:
			got = append(got, f.str())
		case 2, 5:
			got = append(got, string(rune('0'+f.v%10)))
		case 3:
			return walk(f.bytes, func(g field) error { got = append(got, "sub:"+g.str()); return nil })
		case 4:
			got = append(got, "empty:"+f.str())
		}
		return nil
	})
	if err != nil || strings.Join(got, ",") != "a,0,sub:in,empty:,1" {
		t.Errorf("walk = %v, %v", got, err)
	}
	if _, err := fields(b[:len(b)-3]); err == nil {
		t.Error("a truncated message read without error")
	}
	if v, n := consumeVarint(appendVarint(nil, 1<<40+5)); v != 1<<40+5 || n != 6 {
		t.Errorf("varint: %d, %d", v, n)
	}
}

// TestClassify: Nebius's gRPC statuses and ServiceError details become the failover errors: QuotaFailure rules
// out the region, NotEnoughResources (or RESOURCE_EXHAUSTED without details) the region's capacity,
// UNAUTHENTICATED and PERMISSION_DENIED the cloud's credentials, NOT_FOUND and INVALID_ARGUMENT the request.
func TestClassify(t *testing.T) {
	t.Parallel()
	place := cloud.Place{Cloud: Name, Region: "eu-north1"}
	region := cloud.Scope{Level: cloud.LevelRegion, Cloud: Name, Region: "eu-north1"}
	whole := cloud.Scope{Level: cloud.LevelCloud, Cloud: Name}
	for _, tc := range []struct {
		err  *rpcError
		want cloud.Scope
		as   any
	}{
		{&rpcError{Code: codeResourceExhausted, Message: "quota exceeded", Details: []serviceError{{Kind: "quota_failure"}}}, region, new(*cloud.QuotaError)},
		{&rpcError{Code: codeResourceExhausted, Message: "Not enough resources", Details: []serviceError{{Kind: "not_enough_resources"}}}, region, new(*cloud.CapacityError)},
		{&rpcError{Code: codeResourceExhausted, Message: "no capacity"}, region, new(*cloud.CapacityError)},
		{&rpcError{Code: codeUnauthenticated, Message: "invalid token"}, whole, new(*cloud.AuthError)},
		{&rpcError{Code: codePermissionDenied, Message: "permission denied"}, whole, new(*cloud.AuthError)},
		{&rpcError{Code: codeNotFound, Message: "image family not found"}, whole, new(*cloud.InvalidConfigError)},
		{&rpcError{Code: codeInvalidArgument, Message: "no preset"}, whole, new(*cloud.InvalidConfigError)},
		{&rpcError{Code: codeInvalidArgument, Message: `platform "gpu-h200-sxm" is not available in region eu-north1`}, region, new(*cloud.CapacityError)},
		{&rpcError{Code: codeInternal, Message: "boom"}, cloud.Scope{}, nil},
	} {
		err := classify("create instance", place, tc.err)
		if got := cloud.ScopeOf(err); got != tc.want {
			t.Errorf("%d %s: scope %v, want %v", tc.err.Code, tc.err.Message, got, tc.want)
		}
		if tc.as != nil && !errors.As(err, tc.as) {
			t.Errorf("%d %s: %T, want %T", tc.err.Code, tc.err.Message, err, tc.as)
		}
		if !strings.Contains(err.Error(), tc.err.Message) {
			t.Errorf("%v does not quote Nebius's message", err)
		}
	}
	if got := cloud.ScopeOf(classify("x", place, context.Canceled)); got.Level != cloud.LevelNone {
		t.Errorf("a cancelled call rules out %v", got)
	}
}

// TestStatusTrailers: grpc-message is percent-decoded and grpc-status-details-bin's ServiceError details read.
func TestStatusTrailers(t *testing.T) {
	t.Parallel()
	if statusOf("0", "", "") != nil {
		t.Error("OK is an error")
	}
	se := msg(nil).str(1, "compute").str(2, "QuotaFailure").sub(141, msg(nil).sub(1, msg(nil).str(1, "compute.gpu.h100").str(2, "limit 0")))
	st := msg(nil).int(1, 8).str(2, "quota").sub(3, msg(nil).str(1, "type.googleapis.com/nebius.common.v1.ServiceError").sub(2, se))
	err := statusOf("8", "quota%20exceeded", encodeB64(st))
	var e *rpcError
	if !errors.As(err, &e) || e.Code != 8 || e.Message != "quota exceeded" || !e.has("quota_failure") ||
		!strings.Contains(e.Error(), "compute.gpu.h100: limit 0") {
		t.Errorf("statusOf = %#v (%v)", err, err)
	}
}

// TestCheck: $NEBIUS_IAM_TOKEN, else ~/.nebius/NEBIUS_IAM_TOKEN.txt, else a service account key in
// ~/.nebius/credentials.json; the tenant id is shown; a broken key file, or nothing, says how to make one.
func TestCheck(t *testing.T) {
	t.Parallel()
	key := saCredentials(t, nil)
	for _, tc := range []struct {
		name  string
		files map[string]string
		vars  map[string]string
		want  string // "" when disabled
	}{
		{name: "env", vars: map[string]string{TokenEnv: "ne1x"}, files: map[string]string{tenantFile: "tenant-1\n"}, want: "IAM token in NEBIUS_IAM_TOKEN, tenant tenant-1"},
		{name: "token file", files: map[string]string{tokenFile: "ne1x\n"}, want: "no tenant id"},
		{name: "service account", files: map[string]string{credsFile: key, tenantFile: "tenant-1"}, want: "service account key in ~/.nebius/credentials.json"},
		{name: "broken key", files: map[string]string{credsFile: `{"subject-credentials": {}}`}},
		{name: "nothing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			for name, data := range tc.files {
				path := filepath.Join(home, ".nebius", name)
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			res := check(context.Background(), &credcheck.Env{Home: home, Getenv: func(k string) string { return tc.vars[k] }})
			if tc.want == "" {
				if res.Enabled || !strings.Contains(res.Reason, "auth-public-key generate") {
					t.Errorf("check = %+v, want disabled saying how to fix it", res)
				}
				return
			}
			if !res.Enabled || !strings.Contains(res.Detail, tc.want) {
				t.Errorf("check = %+v, want enabled by %s", res, tc.want)
			}
		})
	}
}

// saCredentials is a credentials.json of a new RSA key (registered with the fake when there is one).
func saCredentials(t *testing.T, fake *fakenebius.Server) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	if fake != nil {
		fake.AddServiceAccountKey("publickey-e00test", &k.PublicKey)
	}
	data, _ := json.Marshal(map[string]any{"subject-credentials": map[string]string{"alg": "RS256",
		"private-key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"kid":         "publickey-e00test", "iss": "serviceaccount-e00test", "sub": "serviceaccount-e00test"}})
	return string(data)
}

// newTest is the fake Nebius (eu-north1) with HOME holding the tenant id; the token is set by the caller.
func newTest(t *testing.T) (*fakenebius.Server, string) {
	fake := fakenebius.New(t, []string{"eu-north1"}, fakenebius.Preset{Platform: "cpu-d3", Preset: "4vcpu-16gb", Regions: []string{"eu-north1"}})
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".nebius"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".nebius", tenantFile), []byte(fakenebius.Tenant), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv(EndpointEnv, fake.URL)
	t.Setenv("SSL_CERT_FILE", fake.CAFile)
	t.Setenv(TokenEnv, "")
	return fake, home
}

func newProvider(t *testing.T) *Provider {
	p, err := New(Options{Home: t.TempDir(), AgentBinary: func() (string, error) { return "/bin/true", nil }})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestVerifyCredentials: one read-only call (the caller's profile) with the token; a token Nebius rejects is an
// *AuthError quoting Nebius; a service account key is exchanged for a token (TokenExchangeService, a signed
// JWT) once per process, and a key Nebius does not know is an *AuthError.
func TestVerifyCredentials(t *testing.T) {
	fake, home := newTest(t)
	p, ctx := newProvider(t), context.Background()
	t.Setenv(TokenEnv, fakenebius.Token)
	if err := p.VerifyCredentials(ctx); err != nil {
		t.Fatalf("a good token: %v", err)
	}
	t.Setenv(TokenEnv, "ne1other")
	var auth *cloud.AuthError
	if err := p.VerifyCredentials(ctx); !errors.As(err, &auth) || !strings.Contains(err.Error(), "invalid or expired IAM token") {
		t.Fatalf("a rejected token: %v, want an *AuthError quoting Nebius", err)
	}

	t.Setenv(TokenEnv, "")
	if err := os.WriteFile(filepath.Join(home, ".nebius", credsFile), []byte(saCredentials(t, nil)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.VerifyCredentials(ctx); !errors.As(err, &auth) || !strings.Contains(err.Error(), "unknown key") {
		t.Fatalf("a key Nebius does not know: %v, want an *AuthError", err)
	}
	if err := os.WriteFile(filepath.Join(home, ".nebius", credsFile), []byte(saCredentials(t, fake)), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := p.VerifyCredentials(ctx); err != nil {
			t.Fatalf("a service account key: %v", err)
		}
	}
	n := 0
	for _, c := range fake.Calls() {
		if c == "token.exchange" {
			n++
		}
	}
	if n != 2 { // the unknown key's, then one for the known key
		t.Errorf("%d token exchanges, want 2 (the token is kept for the process)", n)
	}
}

// TestLaunchFailsClean: an instance create Nebius refuses (a quota of zero, capacity found out by the operation)
// deletes the disk made for it, and the failed instance, and stix forgets the cluster.
func TestLaunchFailsClean(t *testing.T) {
	fake, _ := newTest(t)
	t.Setenv(TokenEnv, fakenebius.Token)
	cat := t.TempDir()
	data, err := os.ReadFile("testdata/vms.csv")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(cat, Name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cat, Name, "vms.csv"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("STIX_CATALOG_DIR", cat)
	t.Setenv("STIX_CATALOG_URL", "http://127.0.0.1:1/catalogs")
	p := newProvider(t)
	req := cloud.ProvisionRequest{Cluster: cloud.ClusterRef{Name: "c1"}, Offer: cloud.Offer{Cloud: Name, Region: "eu-north1", InstanceType: "cpu-d3_4vcpu-16gb"}}
	for _, tc := range []struct {
		fault fakenebius.Fault
		as    any
	}{
		{fakenebius.Fault{Code: codes.ResourceExhausted, Kind: "quota_failure", Message: "quota exceeded"}, new(*cloud.QuotaError)},
		{fakenebius.NotEnoughResources("cpu-d3"), new(*cloud.CapacityError)},
	} {
		fake.Heal()
		fake.Fail("instance.create", "eu-north1", tc.fault)
		_, err := p.Provision(context.Background(), req)
		if !errors.As(err, tc.as) {
			t.Errorf("%s: %v, want %T", tc.fault.Message, err, tc.as)
		}
		if in, d := fake.Live(); in != 0 || d != 0 {
			t.Errorf("%s: left %d instances, %d disks", tc.fault.Message, in, d)
		}
		if s, _ := p.locate(req.Cluster); s.s != nil {
			t.Errorf("%s: stix keeps the failed cluster's state", tc.fault.Message)
		}
	}
}

func encodeB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// TestInstanceTypes: a catalog type is PLATFORM_PRESET; GPU platforms boot Nebius's CUDA image family, others
// the driverless one; the user data makes the login user with the key.
func TestInstanceTypes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ typ, platform, preset, image string }{
		{"gpu-h100-sxm_8gpu-128vcpu-1600gb", "gpu-h100-sxm", "8gpu-128vcpu-1600gb", "ubuntu22.04-cuda12"},
		{"cpu-e2_2vcpu-8gb", "cpu-e2", "2vcpu-8gb", "ubuntu22.04-driverless"},
	} {
		platform, preset, ok := splitType(tc.typ)
		if !ok || platform != tc.platform || preset != tc.preset || defaultImage(platform) != tc.image {
			t.Errorf("%s: %s %s %v, image %s", tc.typ, platform, preset, ok, defaultImage(platform))
		}
	}
	for _, bad := range []string{"h100", "_x", "x_"} {
		if _, _, ok := splitType(bad); ok {
			t.Errorf("%s read as PLATFORM_PRESET", bad)
		}
	}
	if ud := userData("ubuntu", "ssh-ed25519 AAAA k\n"); !strings.HasPrefix(ud, "#cloud-config\n") ||
		!strings.Contains(ud, "- name: ubuntu\n") || !strings.Contains(ud, "      - ssh-ed25519 AAAA k\n") {
		t.Errorf("user data:\n%s", ud)
	}
}

// TestReadRetry: a read Nebius answers UNAVAILABLE is sent again (three times at most); a create is sent once.
func TestReadRetry(t *testing.T) {
	fake, _ := newTest(t)
	t.Setenv(TokenEnv, fakenebius.Token)
	ctx := context.Background()
	c, err := newClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.retryWait = time.Millisecond
	unavailable := fakenebius.Fault{Code: codes.Unavailable, Message: "service is temporarily unavailable"}
	fake.FailTimes("instance.list", "", 2, unavailable)
	if _, err := c.instances(ctx, fakenebius.Project("eu-north1")); err != nil {
		t.Errorf("a list answered UNAVAILABLE twice: %v", err)
	}
	fake.FailTimes("instance.list", "", 3, unavailable)
	if _, err := c.instances(ctx, fakenebius.Project("eu-north1")); !strings.Contains(fmt.Sprint(err), "UNAVAILABLE") {
		t.Errorf("a list answered UNAVAILABLE three times: %v", err)
	}
	fake.FailTimes("disk.create", "", 1, unavailable)
	md := metadata{ParentID: fakenebius.Project("eu-north1"), Name: "d"}
	if _, err := c.call(ctx, svcCompute, diskSvc+"Create", msg(nil).sub(1, md.encode())); !strings.Contains(fmt.Sprint(err), "UNAVAILABLE") {
		t.Errorf("a create answered UNAVAILABLE: %v, want it sent once", err)
	}
	n := 0
	for _, call := range fake.Calls() {
		if strings.HasPrefix(call, "disk.create") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the create was sent %d times", n)
	}
}
