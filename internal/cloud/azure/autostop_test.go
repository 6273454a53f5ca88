package azure

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/cloud/vm"
)

func newTestProvider(t *testing.T, vars map[string]string) *Provider {
	t.Helper()
	env := credcheck.Env{Getenv: func(k string) string { return vars[k] }}
	p, err := New(Options{Options: vm.Options{Home: t.TempDir()}, Env: &env})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSelfStopRequests: autostop hands the head a deallocate per VM, workers first, and autodown the deletion
// of the cluster's own group, or of its VMs in a shared one; none carries a secret, each names the metadata
// service's token endpoint for the cluster's identity; a cluster without an identity, and plain autostop of a
// spot cluster, are refused.
func TestSelfStopRequests(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := newTestProvider(t, map[string]string{"AZURE_SUBSCRIPTION_ID": "sub", "AZURE_TENANT_ID": "tenant",
		"AZURE_CLIENT_ID": "client", "AZURE_CLIENT_SECRET": "secret", EndpointEnv: "https://arm.test",
		IMDSEnv: "http://imds.test/token", "SSL_CERT_FILE": ca})
	s := &state{Subscription: "sub", Region: "eastus", Group: "rg-1", OwnGroup: true, VMs: []string{"c-0", "c-1"},
		Identity:         "/subscriptions/sub/resourceGroups/rg-1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/c-identity",
		IdentityClientID: "mi-client"}
	if err := p.m.WriteState("c", s); err != nil {
		t.Fatal(err)
	}
	ctx, ref := context.Background(), cloud.ClusterRef{Name: "c"}
	list := func(down bool) []string {
		t.Helper()
		rs, err := p.SelfStopRequests(ctx, ref, down)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			tu, err := url.Parse(r.TokenURL)
			if err != nil || tu.Host != "imds.test" || tu.Query().Get("client_id") != "mi-client" ||
				tu.Query().Get("api-version") != "2018-02-01" || tu.Query().Get("resource") == "" {
				t.Errorf("token URL %q", r.TokenURL)
			}
			if len(r.Header) != 0 || !strings.Contains(r.RootCAs, "BEGIN CERTIFICATE") {
				t.Errorf("request %s %s: header %v, root CAs %q; want no header and the client's CA", r.Method, r.URL, r.Header, r.RootCAs)
			}
			out = append(out, r.Method+" "+r.URL)
		}
		return out
	}
	vmURL := "https://arm.test/subscriptions/sub/resourceGroups/rg-1/providers/Microsoft.Compute/virtualMachines/"
	want := []string{"POST " + vmURL + "c-1/deallocate?api-version=" + computeAPI, "POST " + vmURL + "c-0/deallocate?api-version=" + computeAPI}
	if got := list(false); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("autostop:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := list(true); len(got) != 1 || got[0] != "DELETE https://arm.test/subscriptions/sub/resourceGroups/rg-1?api-version="+groupAPI {
		t.Errorf("autodown, own group: %q", got)
	}
	s.OwnGroup = false
	if err := p.m.WriteState("c", s); err != nil {
		t.Fatal(err)
	}
	want = []string{"DELETE " + vmURL + "c-1?api-version=" + computeAPI, "DELETE " + vmURL + "c-0?api-version=" + computeAPI}
	if got := list(true); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("autodown, shared group:\n%s", strings.Join(got, "\n"))
	}

	s.Spot = true
	if err := p.m.WriteState("c", s); err != nil {
		t.Fatal(err)
	}
	var unsup *cloud.UnsupportedError
	if err := p.PrepareSelfStop(ctx, ref, false); !errors.As(err, &unsup) {
		t.Errorf("plain autostop of a spot cluster: %v, want refused", err)
	}
	if err := p.PrepareSelfStop(ctx, ref, true); err != nil {
		t.Errorf("autodown of a spot cluster: %v", err)
	}
	s.Spot, s.IdentityClientID = false, ""
	if err := p.m.WriteState("c", s); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SelfStopRequests(ctx, ref, false); !errors.As(err, &unsup) || !strings.Contains(err.Error(), "launch it again") {
		t.Errorf("a cluster without an identity: %v, want refused", err)
	}
}

// TestRoleAssignmentName: the role assignment's name is a GUID, the same for a cluster and group each time (down
// finds it without state), and another for another cluster or group.
func TestRoleAssignmentName(t *testing.T) {
	guid := regexp.MustCompile(`/roleAssignments/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a := roleAssignmentPath("sub", "rg", "c1")
	if !guid.MatchString(a) || !strings.HasPrefix(a, "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Authorization/") {
		t.Errorf("role assignment path %q", a)
	}
	if path.Base(a) != path.Base(roleAssignmentPath("sub", "RG", "c1")) {
		t.Errorf("the name changes with the group's case: %q", roleAssignmentPath("sub", "RG", "c1"))
	}
	if a == roleAssignmentPath("sub", "rg", "c2") || a == roleAssignmentPath("sub", "rg2", "c1") {
		t.Error("two clusters or groups share a role assignment name")
	}
}
