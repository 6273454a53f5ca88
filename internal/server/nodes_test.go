package server_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/server"
)

// TestNodesOverHTTP: a cluster's nodes come through the server as the core lists them; a user gets their own
// cluster's nodes, a 403 for another user's, the typed not-found error for a cluster that does not exist.
func TestNodesOverHTTP(t *testing.T) {
	t.Parallel()
	core := fakeCore()
	want := []api.ClusterNode{
		{Rank: 0, Role: "head", InternalIP: "10.0.0.1", ExternalIP: "203.0.113.5", Status: api.ClusterUp, Cloud: "aws",
			Region: "us-east-1", Zone: "us-east-1a", InstanceType: "m5.large", CPUs: 2, MemoryGB: 8},
		{Rank: 1, Role: "worker", InternalIP: "10.0.0.2", Status: api.ClusterUp, Cloud: "aws", Region: "us-east-1",
			Zone: "us-east-1a", InstanceType: "m5.large", CPUs: 2, MemoryGB: 8, Accelerators: map[string]float64{"T4": 1}},
	}
	core.NodesFunc = func(cluster string) ([]api.ClusterNode, error) {
		if cluster != "a1" && cluster != "b1" {
			return nil, &api.ClusterNotFoundError{Name: cluster}
		}
		return want, nil
	}
	url, dir := startServer(t, core, auth.Config{ServiceAccounts: true, DefaultRole: auth.RoleUser})
	ctx := context.Background()
	adminTok, err := server.ReadInitialToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := client(t, url, adminTok).CreateToken(ctx, api.TokenRequest{Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	ac := client(t, url, alice.Token)
	got, err := ac.Nodes(ctx, "a1")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("alice's nodes of a1 = %+v, %v; want %+v", got, err, want)
	}
	_, err = ac.Nodes(ctx, "b1")
	wantStatus(t, err, 403, "alice asking for bob's cluster's nodes")
	var nf *api.ClusterNotFoundError
	if _, err := ac.Nodes(ctx, "nosuch"); !errors.As(err, &nf) {
		t.Errorf("nodes of nosuch: %v (%T); want *api.ClusterNotFoundError", err, err)
	}
	if got, err := client(t, url, adminTok).Nodes(ctx, "b1"); err != nil || len(got) != 2 {
		t.Errorf("the admin's nodes of b1 = %+v, %v", got, err)
	}
}
