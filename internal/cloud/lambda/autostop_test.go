package lambda

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stix-run/stix/internal/cloud"
)

// TestSelfStopRequests: autodown's request is Lambda's terminate call for every instance of the cluster, with
// the key and the endpoint override; plain autostop is not offered (no cloud.Stopper).
func TestSelfStopRequests(t *testing.T) {
	t.Setenv(EndpointEnv, "http://10.0.0.1:8080/")
	t.Setenv(APIKeyEnv, "secret_k")
	p, err := New(Options{Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if p.SelfStopExit() != cloud.ExitRequest {
		t.Errorf("exit %q", p.SelfStopExit())
	}
	if _, ok := any(p).(cloud.Stopper); ok {
		t.Error("Lambda cannot stop instances, yet the provider is a cloud.Stopper")
	}
	h, _ := json.Marshal(handle{Cluster: "c1", Region: "us-east-1", InstanceIDs: []string{"i-1", "i-2"}})
	rs, err := p.SelfStopRequests(context.Background(), cloud.ClusterRef{Name: "c1", Handle: h}, true)
	if err != nil || len(rs) != 1 {
		t.Fatalf("requests %+v, %v", rs, err)
	}
	r := rs[0]
	if r.Method != "POST" || r.URL != "http://10.0.0.1:8080/api/v1/instance-operations/terminate" ||
		r.Header["Authorization"] != "Bearer secret_k" || r.Header["Content-Type"] != "application/json" ||
		r.Body != `{"instance_ids":["i-1","i-2"]}` {
		t.Errorf("request %+v", r)
	}
	if _, err := p.SelfStopRequests(context.Background(), cloud.ClusterRef{Name: "gone"}, true); err == nil {
		t.Error("a cluster with no instances known: no error")
	}
}
