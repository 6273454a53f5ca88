package do

import (
	"context"
	"net/url"
	"testing"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
)

// TestSelfStopRequests: autostop's request powers the cluster's droplets off by tag; once autodown is set,
// they are deleted by tag and the firewall with them; each with the token and the endpoint override.
func TestSelfStopRequests(t *testing.T) {
	t.Setenv(EndpointEnv, "http://10.0.0.1:8080/")
	t.Setenv(TokenEnv, "dop_v1_k")
	p, err := New(Options{Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if p.SelfStopExit() != cloud.ExitRequest {
		t.Errorf("exit %q", p.SelfStopExit())
	}
	ctx := context.Background()
	ref := cloud.ClusterRef{Name: "c1"}
	if _, err := p.SelfStopRequests(ctx, ref, false); err == nil {
		t.Error("a cluster stix keeps no state of: no error")
	}
	if err := p.m.WriteState("c1", &state{Region: "nyc1", DropletIDs: []int{1, 2}, FirewallID: "fw-1", Cluster: vm.Cluster{Secret: "s"}}); err != nil {
		t.Fatal(err)
	}
	tag := url.QueryEscape(clusterTag("c1"))
	if err := p.PrepareSelfStop(ctx, ref, false); err != nil {
		t.Fatal(err)
	}
	rs, err := p.SelfStopRequests(ctx, ref, false)
	if err != nil || len(rs) != 1 || rs[0].Method != "POST" || rs[0].URL != "http://10.0.0.1:8080/v2/droplets/actions?tag_name="+tag ||
		rs[0].Body != `{"type":"power_off"}` || rs[0].Header["Authorization"] != "Bearer dop_v1_k" {
		t.Errorf("autostop requests %+v, %v", rs, err)
	}
	if err := p.PrepareSelfStop(ctx, ref, true); err != nil {
		t.Fatal(err)
	}
	rs, err = p.SelfStopRequests(ctx, ref, true)
	if err != nil || len(rs) != 2 || rs[0].Method != "DELETE" || rs[0].URL != "http://10.0.0.1:8080/v2/droplets?tag_name="+tag ||
		rs[1].URL != "http://10.0.0.1:8080/v2/firewalls/fw-1" {
		t.Errorf("autodown requests %+v, %v", rs, err)
	}

	// With volumes, each droplet is deleted with its own (the head cannot wait for them to detach).
	if err := p.m.WriteState("c1", &state{Region: "nyc1", DropletIDs: []int{1, 2}, VolumeIDs: []string{"v-1", "v-2"}, FirewallID: "fw-1",
		Autodown: true, Cluster: vm.Cluster{Secret: "s"}}); err != nil {
		t.Fatal(err)
	}
	rs, err = p.SelfStopRequests(ctx, ref, true)
	if err != nil || len(rs) != 4 || rs[0].Method != "DELETE" ||
		rs[0].URL != "http://10.0.0.1:8080/v2/droplets/1/destroy_with_associated_resources/selective" || rs[0].Body != `{"volumes":["v-1"]}` ||
		rs[1].URL != "http://10.0.0.1:8080/v2/droplets/2/destroy_with_associated_resources/selective" || rs[1].Body != `{"volumes":["v-2"]}` ||
		rs[2].URL != "http://10.0.0.1:8080/v2/droplets?tag_name="+tag || rs[3].URL != "http://10.0.0.1:8080/v2/firewalls/fw-1" {
		t.Errorf("autodown requests with volumes %+v, %v", rs, err)
	}
}
