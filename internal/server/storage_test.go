package server_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/embedded"
	"github.com/stix-run/stix/internal/server"
	"github.com/stix-run/stix/internal/store"
)

// TestStorageRoutes: `storage ls` and `storage delete` over HTTP with the real core and state database: a user
// sees and deletes only their own buckets' records, an admin every user's; an unknown name says so. The
// buckets here are ones stix did not create, so delete only removes their records (no store is reached).
func TestStorageRoutes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	home := t.TempDir()
	st, err := store.Open(ctx, home)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := store.BucketsOf(st)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, r := range []*store.Storage{
		{Name: "alice-data", Store: "s3", User: "alice", Status: store.StorageReady, Persistent: true, LaunchedAt: now, UpdatedAt: now},
		{Name: "alice-more", Store: "gcs", User: "alice", Status: store.StorageReady, Persistent: true, LaunchedAt: now, UpdatedAt: now},
		{Name: "bob-data", Store: "s3", User: "bob", Status: store.StorageReady, Persistent: true, LaunchedAt: now, UpdatedAt: now},
	} {
		if err := tbl.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	core := embedded.New(embedded.Options{Core: cluster.Options{Home: home}})
	t.Cleanup(func() { core.Close() })
	url, dir := startServer(t, core, auth.Config{ServiceAccounts: true, DefaultRole: auth.RoleUser})
	adminTok, err := server.ReadInitialToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	admin := client(t, url, adminTok)
	tok := func(name string) *api.HTTPClient {
		created, err := admin.CreateToken(ctx, api.TokenRequest{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		return client(t, url, created.Token)
	}
	alice, bob := tok("alice"), tok("bob")
	ls := func(c *api.HTTPClient) []string {
		t.Helper()
		list, err := c.StorageList(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range list {
			out = append(out, s.Name)
		}
		return out
	}
	if got := ls(alice); !slices.Equal(got, []string{"alice-data", "alice-more"}) {
		t.Errorf("alice sees %v", got)
	}
	if got := ls(admin); len(got) != 3 {
		t.Errorf("the admin sees %v, want all three", got)
	}
	del := func(c *api.HTTPClient, req api.StorageDeleteRequest) ([]api.StorageDeleteOutcome, error) {
		op, err := c.StorageDelete(ctx, req)
		if err != nil {
			return nil, err
		}
		return op.Wait()
	}
	if _, err := del(bob, api.StorageDeleteRequest{Names: []string{"alice-data"}}); err == nil ||
		!strings.Contains(err.Error(), `storage "alice-data" belongs to user "alice"`) {
		t.Errorf("bob deleting alice's: %v", err)
	}
	if _, err := del(bob, api.StorageDeleteRequest{Names: []string{"nope"}}); err == nil ||
		!strings.Contains(err.Error(), `storage "nope" does not exist`) {
		t.Errorf("an unknown name: %v", err)
	}
	// -a is the caller's own; a glob matches only the caller's.
	if _, err := del(bob, api.StorageDeleteRequest{Names: []string{"alice-*"}}); err != nil {
		t.Errorf("bob's glob: %v", err)
	}
	if got := ls(alice); len(got) != 2 {
		t.Errorf("bob's glob touched alice's buckets: %v", got)
	}
	if _, err := del(alice, api.StorageDeleteRequest{All: true}); err != nil {
		t.Fatal(err)
	}
	if got := ls(admin); !slices.Equal(got, []string{"bob-data"}) {
		t.Errorf("after alice's delete -a the admin sees %v", got)
	}
	if out, err := del(admin, api.StorageDeleteRequest{Names: []string{"bob-data"}}); err != nil || len(out) != 1 || out[0].Deleted {
		t.Errorf("the admin deleting bob's: %+v, %v (want the record removed, no bucket deleted)", out, err)
	}
}
