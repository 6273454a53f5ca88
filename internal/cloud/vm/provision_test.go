package vm

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/stix-run/stix/internal/cloud"
)

func TestProvisionSkeleton(t *testing.T) {
	t.Parallel()
	type st struct {
		IDs []string `json:"ids"`
	}
	m := &Machines{Cloud: "lambda", Root: t.TempDir()}
	nodes := func(s *st) int { return len(s.IDs) }
	again := func(_ context.Context, s *st) (*cloud.ClusterInfo, error) {
		return &cloud.ClusterInfo{Zone: "again " + s.IDs[0]}, nil
	}
	failed := func(context.Context) (*cloud.ClusterInfo, error) { return nil, errors.New("no capacity") }
	req := func(name, offerCloud string, n int) cloud.ProvisionRequest {
		return cloud.ProvisionRequest{Cluster: cloud.ClusterRef{Name: name}, Offer: cloud.Offer{Cloud: offerCloud},
			Requirements: cloud.Requirements{NumNodes: n}}
	}
	ctx := context.Background()
	for _, tc := range []struct {
		req  cloud.ProvisionRequest
		want string
	}{
		{req("bad name", "", 1), `lambda cluster name "bad name": use up to 63 letters, digits, '.', '_' and '-', starting with a letter or digit`},
		{req("c", "aws", 1), "provision lambda cluster c: the offer is for aws"},
		{req("c", "Lambda", 1), "provision lambda cluster c: no capacity"},
	} {
		if _, err := Provision(ctx, m, tc.req, nodes, again, failed); err == nil || err.Error() != tc.want {
			t.Errorf("Provision(%+v) = %v, want %q", tc.req, err, tc.want)
		}
	}
	if err := m.WriteState("c", &st{IDs: []string{"i-1", "i-2"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Provision(ctx, m, req("c", "", 1), nodes, again, failed); err == nil ||
		err.Error() != "lambda cluster c exists with 2 nodes and the request asks for 1: run `stix down c` first" {
		t.Errorf("Provision with another node count = %v", err)
	}
	if info, err := Provision(ctx, m, req("c", "", 2), nodes, again, failed); err != nil || info.Zone != "again i-1" {
		t.Errorf("Provision of a known cluster = %+v, %v", info, err)
	}
	if s, err := Load[st](m, "none"); s != nil || err != nil {
		t.Errorf("Load of no cluster = %+v, %v", s, err)
	}
	var notFound *cloud.NotFoundError
	if s, err := Known[st](m, "none"); s != nil || !errors.As(err, &notFound) || notFound.Cluster != "none" ||
		notFound.Reason != "stix has no record of it" || notFound.Place.Cloud != "lambda" {
		t.Errorf("Known of no cluster = %+v, %v", s, err)
	}
	if s, err := Known[st](m, "c"); err != nil || len(s.IDs) != 2 {
		t.Errorf("Known of a cluster = %+v, %v", s, err)
	}
}

func TestLocateInOrderMine(t *testing.T) {
	t.Parallel()
	type st struct {
		IDs []int `json:"ids"`
	}
	type hd struct {
		IDs []int `json:"ids"`
	}
	m := &Machines{Cloud: "do", Root: t.TempDir()}
	stateIDs := func(s *st) []int { return s.IDs }
	handleIDs := func(h *hd) []int { return h.IDs }
	for _, tc := range []struct {
		handle string
		want   []int
	}{{"", nil}, {"not json", nil}, {`{"ids":[3,4]}`, []int{3, 4}}} {
		ids, s, err := Locate(m, cloud.ClusterRef{Name: "c", Handle: []byte(tc.handle)}, stateIDs, handleIDs)
		if err != nil || s != nil || !slices.Equal(ids, tc.want) {
			t.Errorf("Locate without state, handle %q = %v, %v, %v; want %v", tc.handle, ids, s, err, tc.want)
		}
	}
	if err := m.WriteState("c", &st{IDs: []int{1, 2}}); err != nil {
		t.Fatal(err)
	}
	ids, s, err := Locate(m, cloud.ClusterRef{Name: "c", Handle: []byte(`{"ids":[3]}`)}, stateIDs, handleIDs)
	if err != nil || s == nil || !slices.Equal(ids, []int{1, 2}) {
		t.Errorf("Locate with state = %v, %v, %v; want the state's ids [1 2]", ids, s, err)
	}

	type item struct {
		ID   int
		Name string
	}
	id := func(it item) int { return it.ID }
	all := []item{{5, "other"}, {2, "c"}, {9, "c"}, {1, "c"}}
	if got, want := InOrder(all, []int{1, 2, 3}, id), []item{{1, "c"}, {2, "c"}, {}}; !slices.Equal(got, want) {
		t.Errorf("InOrder = %v, want %v", got, want)
	}
	gone := func(id int) item { return item{id, "gone"} }
	ours := func(it item) bool { return it.Name == "c" }
	if got, want := Mine(all, []int{1, 3, 2}, id, gone, ours), []item{{1, "c"}, {3, "gone"}, {2, "c"}, {9, "c"}}; !slices.Equal(got, want) {
		t.Errorf("Mine = %v, want %v", got, want)
	}
}
