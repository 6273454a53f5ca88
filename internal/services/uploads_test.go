package services

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/embedded"
	"github.com/stix-run/stix/internal/store"
)

// TestUploadsInUse: the uploaded trees every version of a live service names are in use (its replicas are
// launched again from them); a service gone names none.
func TestUploadsInUse(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	core := embedded.New(embedded.Options{Core: cluster.Options{Home: home, DBOrigin: "the test"}})
	defer core.Close()
	st, err := store.OpenAt(ctx, store.Location{Home: home, DBOrigin: "the test"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctl, err := New(Options{Core: core, State: st, Dir: filepath.Join(home, "server")}) // not started: nothing runs the rows
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	at := time.Unix(1700000000, 0)
	for _, r := range []*Row{
		{Name: "web", Version: 2, LBPort: 30001, Spec: Spec{Versions: map[int]api.TaskSpec{
			1: {YAML: "run: x", Uploads: map[string]string{"app": "t-web-1"}},
			2: {YAML: "run: y", Uploads: map[string]string{"app": "t-web-2", "./data": "t-data"}}}}},
		{Name: "old", Version: 1, LBPort: 30002, Spec: Spec{Versions: map[int]api.TaskSpec{1: {YAML: "run: x", Uploads: map[string]string{"app": "t-old"}}}}},
		{Name: "plain", Version: 1, LBPort: 30003, Spec: Spec{Versions: map[int]api.TaskSpec{1: {YAML: "run: x"}}}},
	} {
		r.User, r.CreatedAt, r.Status = "u", at, api.ServiceReady
		if err := ctl.st.Insert(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := ctl.st.Delete(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	got, err := ctl.UploadsInUse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if want := []string{"t-data", "t-web-1", "t-web-2"}; !slices.Equal(got, want) {
		t.Errorf("UploadsInUse = %v, want %v", got, want)
	}
}
