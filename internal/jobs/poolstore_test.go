package jobs

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
)

// The pool tables on both databases: apply creates then updates (a new task is a new version), a worker is
// claimed by one job at a time (the same one again after a restart), released, and lost; down and delete.
func TestPoolStore(t *testing.T) {
	for name, st := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, err := OpenStore(st)
			if err != nil {
				t.Fatal(err)
			}
			spec := api.TaskSpec{YAML: "pool:\n  workers: 2\n"}
			p, created, err := s.ApplyPool(ctx, PoolRow{Name: "p", User: "u", CreatedAt: time.Now(), Workers: 2}, &spec)
			if err != nil || !created || p.Version != 1 {
				t.Fatalf("apply: %+v %v %v", p, created, err)
			}
			if _, _, err := s.ApplyPool(ctx, PoolRow{Name: "other", Workers: 1}, nil); !errors.Is(err, ErrNoPool) {
				t.Errorf("resize of an unknown pool: %v", err)
			}
			for id := 1; id <= 2; id++ {
				if err := s.PutWorker(ctx, WorkerRow{Pool: "p", ID: id, Version: 1, Status: api.WorkerReady, Cluster: WorkerCluster("p", id)}); err != nil {
					t.Fatal(err)
				}
			}
			w1, err := s.ClaimWorker(ctx, "p", 10)
			if err != nil || w1 == nil || w1.ID != 1 || w1.JobID != 10 {
				t.Fatalf("claim: %+v %v", w1, err)
			}
			if again, err := s.ClaimWorker(ctx, "p", 10); err != nil || again == nil || again.ID != 1 {
				t.Errorf("claim again: %+v %v", again, err)
			}
			if w2, err := s.ClaimWorker(ctx, "p", 11); err != nil || w2 == nil || w2.ID != 2 {
				t.Errorf("second claim: %+v %v", w2, err)
			}
			if w3, err := s.ClaimWorker(ctx, "p", 12); err != nil || w3 != nil {
				t.Errorf("third claim: %+v %v", w3, err)
			}
			if err := s.ReleaseWorker(ctx, "p", 10, false, ""); err != nil {
				t.Fatal(err)
			}
			if w3, err := s.ClaimWorker(ctx, "p", 12); err != nil || w3 == nil || w3.ID != 1 {
				t.Errorf("claim after release: %+v %v", w3, err)
			}
			if err := s.ReleaseWorker(ctx, "p", 11, true, "gone"); err != nil {
				t.Fatal(err)
			}
			_, ws, err := s.Pool(ctx, "p")
			if err != nil || len(ws) != 2 || ws[1].Status != api.WorkerFailed || ws[1].JobID != 0 || ws[1].Message != "gone" {
				t.Errorf("workers %+v %v", ws, err)
			}
			// Same task: same version; another task: the next one.
			spec2 := api.TaskSpec{YAML: "pool:\n  workers: 3\n"}
			if p, _, err := s.ApplyPool(ctx, PoolRow{Name: "p", Workers: 3}, &spec); err != nil || p.Version != 1 || p.Workers != 3 {
				t.Errorf("reapply: %+v %v", p, err)
			}
			if p, _, err := s.ApplyPool(ctx, PoolRow{Name: "p", Workers: 3}, &spec2); err != nil || p.Version != 2 {
				t.Errorf("new task: %+v %v", p, err)
			}
			if ok, err := s.RequestPoolDown(ctx, "p"); !ok || err != nil {
				t.Errorf("down: %v %v", ok, err)
			}
			if _, err := s.ClaimWorker(ctx, "p", 13); !errors.Is(err, ErrNoPool) {
				t.Errorf("claim in a pool being deleted: %v", err)
			}
			if err := s.DeletePool(ctx, "p"); err != nil {
				t.Fatal(err)
			}
			if names, err := s.PoolNames(ctx); err != nil || len(names) != 0 {
				t.Errorf("pools left: %v %v", names, err)
			}
		})
	}
}
