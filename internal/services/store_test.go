package services

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/store"
	"github.com/stix-run/stix/internal/testutil/pgtest"
)

// backends opens a fresh state store on SQLite and on PostgreSQL (when installed, or required).
func backends(t *testing.T) map[string]store.Store {
	t.Helper()
	ctx := context.Background()
	out := map[string]store.Store{}
	st, err := store.OpenAt(ctx, store.Location{Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	out["sqlite"] = st
	if pgtest.BinDir() != "" || os.Getenv("STIX_REQUIRE_POSTGRES") != "" {
		pg, err := store.OpenAt(ctx, store.Location{DB: pgtest.Shared(t).NewDatabase(t), DBOrigin: "the test"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pg.Close() })
		out["postgres"] = pg
	}
	return out
}

// TestStore: the service tables in both dialects: insert (a name taken), replica IDs, replicas upserted,
// versions added (a concurrent update loses), down asked, delete.
func TestStore(t *testing.T) {
	for name, st := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, err := OpenStore(st)
			if err != nil {
				t.Fatal(err)
			}
			at := time.Unix(1700000000, 0)
			row := &Row{Name: "web", User: "u", CreatedAt: at, Status: api.ServiceControllerInit, Version: 1, LBPort: 30001,
				Spec: Spec{Versions: map[int]api.TaskSpec{1: {YAML: "run: x"}}}}
			if err := s.Insert(ctx, row); err != nil {
				t.Fatal(err)
			}
			if err := s.Insert(ctx, row); !errors.Is(err, ErrExists) {
				t.Fatalf("insert twice: %v", err)
			}
			for want := 1; want <= 2; want++ {
				if id, err := s.NextReplicaID(ctx, "web"); err != nil || id != want {
					t.Fatalf("replica ID %d, %v; want %d", id, err, want)
				}
			}
			rep := ReplicaRow{Service: "web", ID: 1, Version: 1, Status: "PENDING", Cluster: "web-1", LaunchedAt: at}
			if err := s.PutReplica(ctx, rep); err != nil {
				t.Fatal(err)
			}
			rep.Status, rep.Endpoint, rep.Spot = "READY", "http://127.0.0.2:8080", true
			if err := s.PutReplica(ctx, rep); err != nil {
				t.Fatal(err)
			}
			reps, err := s.Replicas(ctx, "web")
			if err != nil || len(reps) != 1 || reps[0].Status != "READY" || reps[0].Endpoint != rep.Endpoint || !reps[0].Spot || !reps[0].LaunchedAt.Equal(at) {
				t.Fatalf("replicas %+v, %v", reps, err)
			}
			sp := Spec{Versions: map[int]api.TaskSpec{1: {YAML: "run: x"}, 2: {YAML: "run: y"}}, Mode: "rolling"}
			if err := s.AddVersion(ctx, "web", 2, sp); err != nil {
				t.Fatal(err)
			}
			if err := s.AddVersion(ctx, "web", 2, sp); !errors.Is(err, ErrConflict) {
				t.Fatalf("the same version twice: %v", err)
			}
			if err := s.SetStatus(ctx, "web", api.ServiceReady, at, ""); err != nil {
				t.Fatal(err)
			}
			if err := s.RequestDown(ctx, "web"); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(ctx, "web")
			if err != nil || got.Version != 2 || got.Spec.Versions[2].YAML != "run: y" || got.Status != api.ServiceReady || !got.ReadySince.Equal(at) || !got.Down {
				t.Fatalf("service %+v, %v", got, err)
			}
			if err := s.Delete(ctx, "web"); err != nil {
				t.Fatal(err)
			}
			var nf *api.ServiceNotFoundError
			if _, err := s.Get(ctx, "web"); !errors.As(err, &nf) {
				t.Fatalf("after delete: %v", err)
			}
			if reps, _ := s.Replicas(ctx, "web"); len(reps) != 0 {
				t.Fatalf("replicas after delete: %+v", reps)
			}
		})
	}
}
