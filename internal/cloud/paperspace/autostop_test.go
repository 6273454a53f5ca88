package paperspace

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stix-run/stix/internal/cloud"
)

// TestSelfStopRequests: autostop's requests stop every machine of the cluster, autodown's delete them, the head's
// last, with the key and the endpoint override.
func TestSelfStopRequests(t *testing.T) {
	t.Setenv(EndpointEnv, "http://10.0.0.1:8080/v1/")
	t.Setenv(APIKeyEnv, "ps_k")
	p, err := New(Options{Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if p.SelfStopExit() != cloud.ExitRequest {
		t.Errorf("exit %q", p.SelfStopExit())
	}
	h, _ := json.Marshal(handle{Cluster: "c1", Region: "East Coast (NY2)", MachineIDs: []string{"ps1", "ps2"}})
	ref := cloud.ClusterRef{Name: "c1", Handle: h}
	for _, tc := range []struct {
		down   bool
		method string
		urls   []string
	}{
		{false, "PATCH", []string{"http://10.0.0.1:8080/v1/machines/ps2/stop", "http://10.0.0.1:8080/v1/machines/ps1/stop"}},
		{true, "DELETE", []string{"http://10.0.0.1:8080/v1/machines/ps2", "http://10.0.0.1:8080/v1/machines/ps1"}},
	} {
		rs, err := p.SelfStopRequests(context.Background(), ref, tc.down)
		if err != nil || len(rs) != 2 {
			t.Fatalf("down=%v: requests %+v, %v", tc.down, rs, err)
		}
		for i, r := range rs {
			if r.Method != tc.method || r.URL != tc.urls[i] || r.Header["Authorization"] != "Bearer ps_k" || r.Body != "" {
				t.Errorf("down=%v: request %d %+v", tc.down, i, r)
			}
		}
	}
	if _, err := p.SelfStopRequests(context.Background(), cloud.ClusterRef{Name: "gone"}, true); err == nil {
		t.Error("a cluster with no machines known: no error")
	}
}
