package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/store"
	"github.com/stix-run/stix/internal/testutil/pgtest"
)

// backends opens a fresh state store on SQLite and, when PostgreSQL is installed, on PostgreSQL.
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
	if pgtest.BinDir() != "" {
		pg, err := store.OpenAt(ctx, store.Location{DB: pgtest.Shared(t).NewDatabase(t), DBOrigin: "the test"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pg.Close() })
		out["postgres"] = pg
	}
	return out
}

func TestStore(t *testing.T) {
	for name, st := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, err := OpenStore(st)
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Unix(1_700_000_000, 0)
			spec := JobSpec{Tasks: []TaskSpec{{Task: api.TaskSpec{YAML: "run: echo a"}, Recovery: Recovery{Strategy: StrategyFailover}},
				{Task: api.TaskSpec{YAML: "run: echo b"}}}}
			a := &Job{Name: "pipe", User: "alice", SubmittedAt: t0, RunTimestamp: "sky-managed-x", Spec: spec}
			if err := s.Insert(ctx, a, []Task{{Name: "a", Resources: "1x[cpus=1+]"}, {Name: "b", Resources: "1x[cpus=1+]"}}, t0); err != nil {
				t.Fatal(err)
			}
			b := &Job{Name: "solo", User: "bob", SubmittedAt: t0.Add(time.Second), RunTimestamp: "sky-managed-y", Spec: JobSpec{Tasks: spec.Tasks[:1]}}
			if err := s.Insert(ctx, b, []Task{{Name: "solo"}}, t0); err != nil {
				t.Fatal(err)
			}
			if a.ID == 0 || b.ID <= a.ID {
				t.Fatalf("ids %d, %d", a.ID, b.ID)
			}
			j, tasks, err := s.Job(ctx, a.ID)
			if err != nil || len(tasks) != 2 || j.Spec.Tasks[0].Recovery.Strategy != StrategyFailover || j.Status != api.ManagedPending {
				t.Fatalf("Job = %+v, %+v, %v", j, tasks, err)
			}
			// task 0 runs for 10 s, then recovers, then runs again
			tk := tasks[0]
			tk.Status, tk.Cluster, tk.Infra, tk.StartedAt, tk.RunningSince = api.ManagedRunning, "a-1", "Local", t0, t0
			if err := s.Update(ctx, api.ManagedRunning, &tk, api.ManagedJobEvent{At: t0, Status: api.ManagedRunning, Reason: ReasonLaunched}); err != nil {
				t.Fatal(err)
			}
			tk.Status, tk.JobDuration, tk.RunningSince, tk.Recoveries = api.ManagedRecovering, 10*time.Second, time.Time{}, 1
			if err := s.Update(ctx, api.ManagedRecovering, &tk, api.ManagedJobEvent{At: t0.Add(10 * time.Second), Status: api.ManagedRecovering, Reason: ReasonPreempted}); err != nil {
				t.Fatal(err)
			}
			tk.Status, tk.RunningSince = api.ManagedRunning, t0.Add(20*time.Second)
			if err := s.Update(ctx, api.ManagedRunning, &tk, api.ManagedJobEvent{At: t0.Add(20 * time.Second), Status: api.ManagedRunning, Reason: ReasonLaunched}); err != nil {
				t.Fatal(err)
			}

			rows, err := s.Queue(ctx, Filter{Events: true}, t0.Add(25*time.Second))
			if err != nil || len(rows) != 3 {
				t.Fatalf("Queue = %+v, %v", rows, err)
			}
			if rows[0].ID != b.ID || rows[1].ID != a.ID || rows[1].TaskID != 0 || rows[2].TaskID != 1 {
				t.Errorf("order: %+v", rows)
			}
			r := rows[1]
			if r.Status != api.ManagedRunning || r.Recoveries != 1 || time.Duration(r.JobDuration) != 15*time.Second || r.Cluster != "a-1" {
				t.Errorf("row %+v", r)
			}
			if len(r.Events) != 4 || r.Events[2].Reason != ReasonPreempted || r.Events[0].Reason != ReasonSubmitted {
				t.Errorf("events %+v", r.Events)
			}
			// Without Events (the default queue) the rows are the same but carry no events.
			if plain, err := s.Queue(ctx, Filter{}, t0.Add(25*time.Second)); err != nil || len(plain) != 3 || plain[1].Recoveries != 1 ||
				plain[0].Events != nil || plain[1].Events != nil || plain[2].Events != nil {
				t.Errorf("Queue without events = %+v, %v", plain, err)
			}
			if own, _ := s.Queue(ctx, Filter{User: "bob"}, t0); len(own) != 1 || own[0].User != "bob" {
				t.Errorf("bob's queue %+v", own)
			}
			if un, err := s.Unfinished(ctx); err != nil || len(un) != 2 {
				t.Errorf("Unfinished = %v, %v", un, err)
			}

			// b ends; cancelling it then does nothing, cancelling a does
			bt := Task{JobID: b.ID, TaskID: 0, Name: "solo", Status: api.ManagedSucceeded, EndedAt: t0.Add(time.Minute)}
			if err := s.Update(ctx, api.ManagedSucceeded, &bt, api.ManagedJobEvent{At: bt.EndedAt, Status: api.ManagedSucceeded}); err != nil {
				t.Fatal(err)
			}
			if ok, err := s.RequestCancel(ctx, b.ID); ok || err != nil {
				t.Errorf("cancel of a finished job: %v, %v", ok, err)
			}
			if ok, err := s.RequestCancel(ctx, a.ID); !ok || err != nil {
				t.Errorf("cancel: %v, %v", ok, err)
			}
			if c, _ := s.CancelsAmong(ctx, []int64{a.ID, b.ID}); len(c) != 1 || c[0] != a.ID {
				t.Error("cancel not recorded")
			}
			if rows, _ := s.Queue(ctx, Filter{SkipFinished: true}, t0); len(rows) != 2 || rows[0].ID != a.ID {
				t.Errorf("skip finished: %+v", rows)
			}
			if _, _, err := s.Job(ctx, 999); !errors.Is(err, ErrNoJob) {
				t.Errorf("unknown job: %v", err)
			}
		})
	}
}

// The uploads of unfinished jobs are in use (the server's GC keeps them); a finished job's are not.
func TestUploadsInUse(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenAt(ctx, store.Location{Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := New(Options{Core: stubCore{}, State: st, Dir: t.TempDir()}) // not started: runs nothing
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	spec := JobSpec{Tasks: []TaskSpec{{Task: api.TaskSpec{YAML: "run: ls", Uploads: map[string]string{".": "tree-a"}}},
		{Task: api.TaskSpec{YAML: "run: ls", Uploads: map[string]string{"data": "tree-b"}}}}}
	running := &Job{Name: "r", SubmittedAt: t0, RunTimestamp: "x", Spec: spec}
	done := &Job{Name: "d", SubmittedAt: t0, RunTimestamp: "x", Spec: JobSpec{Tasks: []TaskSpec{{Task: api.TaskSpec{Uploads: map[string]string{".": "tree-c"}}}}}}
	for _, j := range []*Job{running, done} {
		if err := c.st.Insert(ctx, j, make([]Task, len(j.Spec.Tasks)), t0); err != nil {
			t.Fatal(err)
		}
	}
	end := Task{JobID: done.ID, Status: api.ManagedSucceeded, EndedAt: t0}
	if err := c.st.Update(ctx, api.ManagedSucceeded, &end, api.ManagedJobEvent{}); err != nil {
		t.Fatal(err)
	}
	got, err := c.UploadsInUse(ctx)
	slices.Sort(got)
	if err != nil || fmt.Sprint(got) != "[tree-a tree-b]" {
		t.Errorf("UploadsInUse = %v, %v; want the running job's two trees", got, err)
	}
}

// stubCore is an api.Client for tests that never reach the core.
type stubCore struct{ api.Client }
