package runpod

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stix-run/stix/internal/cloud"
)

// TestSelfStopRequests: autodown's requests are RunPod's DELETE of each pod of the cluster, with the key and the
// endpoint override; plain autostop is not offered (no cloud.Stopper).
func TestSelfStopRequests(t *testing.T) {
	t.Setenv(EndpointEnv, "http://10.0.0.1:8080/v1")
	t.Setenv(APIKeyEnv, "rpa_k")
	p, err := New(Options{Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if p.SelfStopExit() != cloud.ExitRequest {
		t.Errorf("exit %q", p.SelfStopExit())
	}
	if _, ok := any(p).(cloud.Stopper); ok {
		t.Error("the RunPod provider is a cloud.Stopper")
	}
	h, _ := json.Marshal(handle{Cluster: "c1", PodIDs: []string{"p1"}})
	rs, err := p.SelfStopRequests(context.Background(), cloud.ClusterRef{Name: "c1", Handle: h}, true)
	if err != nil || len(rs) != 1 {
		t.Fatalf("requests %+v, %v", rs, err)
	}
	if r := rs[0]; r.Method != "DELETE" || r.URL != "http://10.0.0.1:8080/v1/pods/p1" || r.Header["Authorization"] != "Bearer rpa_k" || r.Body != "" {
		t.Errorf("request %+v", r)
	}
	if _, err := p.SelfStopRequests(context.Background(), cloud.ClusterRef{Name: "gone"}, true); err == nil {
		t.Error("a cluster with no pods known: no error")
	}
}
