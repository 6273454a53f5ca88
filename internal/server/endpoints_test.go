package server_test

import (
	"context"
	"errors"
	"maps"
	"sync"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli/fakeclient"
)

// TestEndpointsAndCheckVerifyOverHTTP: `status --endpoint(s)` and `check -v` reach the core through the server
// with their arguments (the port, verify), and the answers and typed errors come back.
func TestEndpointsAndCheckVerifyOverHTTP(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		verified []bool
	)
	fake := &fakeclient.Client{
		EndpointsFunc: func(cluster string, port int) (map[int]string, error) {
			if cluster != "web" {
				return nil, &api.ClusterNotFoundError{Name: cluster}
			}
			all := map[int]string{8080: "203.0.113.5:8080", 9000: "203.0.113.5:9000"}
			if port != 0 {
				return map[int]string{port: all[port]}, nil
			}
			return all, nil
		},
		CheckFunc: func(infra []string, verify bool) (api.CheckResult, error) {
			mu.Lock()
			defer mu.Unlock()
			verified = append(verified, verify)
			return api.CheckResult{Results: []api.InfraCheck{{Infra: "aws", Reason: "rejected"}}}, nil
		},
	}
	_, c, _ := start(t, t.TempDir(), fake)
	ctx := context.Background()
	eps, err := c.Endpoints(ctx, "web", 0)
	if want := map[int]string{8080: "203.0.113.5:8080", 9000: "203.0.113.5:9000"}; err != nil || !maps.Equal(eps, want) {
		t.Errorf("Endpoints(web, 0) = %v, %v; want %v", eps, err, want)
	}
	if eps, err = c.Endpoints(ctx, "web", 9000); err != nil || len(eps) != 1 || eps[9000] != "203.0.113.5:9000" {
		t.Errorf("Endpoints(web, 9000) = %v, %v", eps, err)
	}
	var nf *api.ClusterNotFoundError
	if _, err = c.Endpoints(ctx, "nosuch", 0); !errors.As(err, &nf) {
		t.Errorf("Endpoints(nosuch) error %v (%T); want *api.ClusterNotFoundError", err, err)
	}
	for _, verify := range []bool{true, false} {
		res, err := api.Wait(c.Check(ctx, []string{"aws"}, verify))
		if err != nil || len(res.Results) != 1 || res.Results[0].Reason != "rejected" {
			t.Errorf("Check(verify=%v) = %+v, %v", verify, res, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(verified) != 2 || !verified[0] || verified[1] {
		t.Errorf("the core saw verify %v; want [true false]", verified)
	}
}
