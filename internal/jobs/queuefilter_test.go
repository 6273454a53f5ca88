package jobs

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
)

// jobIDs is the jobs of queue rows in order, a job once (its tasks are adjacent).
func jobIDs(rows []api.ManagedJob) []int64 {
	var out []int64
	for i, r := range rows {
		if i == 0 || r.ID != rows[i-1].ID {
			out = append(out, r.ID)
		}
	}
	return out
}

// The queue filters by the job-level state derived from the tasks and by text, sorts by the page's keys and
// cuts a page in SQL; the count is the filtered queue's length.
func TestQueueFilterSortPage(t *testing.T) {
	for name, st := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, err := OpenStore(st)
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Unix(1_700_000_000, 0)
			add := func(name, user string, tasks ...Task) *Job {
				t.Helper()
				j := &Job{Name: name, User: user, SubmittedAt: t0, RunTimestamp: "sky-managed-" + name}
				for range tasks {
					j.Spec.Tasks = append(j.Spec.Tasks, TaskSpec{Task: api.TaskSpec{YAML: "run: true"}})
				}
				if err := s.Insert(ctx, j, tasks, t0); err != nil {
					t.Fatal(err)
				}
				return j
			}
			set := func(j *Job, task int, jobStatus, status api.ManagedJobStatus, recoveries int, infra string) {
				t.Helper()
				_, tasks, err := s.Job(ctx, j.ID)
				if err != nil {
					t.Fatal(err)
				}
				tk := tasks[task]
				tk.Status, tk.Recoveries, tk.Infra = status, recoveries, infra
				if err := s.Update(ctx, jobStatus, &tk, api.ManagedJobEvent{At: t0, Status: status}); err != nil {
					t.Fatal(err)
				}
			}
			// j1: a pipeline between its tasks (the first done, the second not started; the job row STARTING).
			j1 := add("train-a", "alice", Task{Name: "a"}, Task{Name: "b"})
			set(j1, 0, api.ManagedStarting, api.ManagedSucceeded, 0, "Local")
			j2 := add("eval", "bob", Task{Name: "eval"})
			set(j2, 0, api.ManagedRunning, api.ManagedRunning, 2, "AWS (us-east-1)")
			j3 := add("train-b", "alice", Task{Name: "b"})
			set(j3, 0, api.ManagedFailed, api.ManagedFailed, 0, "Local")
			j4 := add("serve_x", "bob", Task{Name: "x"})
			set(j4, 0, api.ManagedSucceeded, api.ManagedSucceeded, 1, "Local")

			check := func(f Filter, want []int64, total int) {
				t.Helper()
				rows, err := s.Queue(ctx, f, t0)
				if err != nil {
					t.Fatalf("Queue(%+v): %v", f, err)
				}
				if got := jobIDs(rows); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("Queue(%+v) = jobs %v, want %v", f, got, want)
				}
				if n, err := s.Count(ctx, f); err != nil || n != total {
					t.Errorf("Count(%+v) = %d, %v, want %d", f, n, err, total)
				}
			}
			check(Filter{Status: api.ManagedPending}, []int64{j1.ID}, 1)
			check(Filter{Status: api.ManagedStarting}, nil, 0)
			check(Filter{Status: api.ManagedSucceeded}, []int64{j4.ID}, 1)
			check(Filter{Search: "TRAIN"}, []int64{j3.ID, j1.ID}, 2)
			check(Filter{Search: "aws"}, []int64{j2.ID}, 1)
			check(Filter{Search: "_"}, []int64{j4.ID}, 1)
			check(Filter{Search: "%"}, nil, 0)
			check(Filter{Search: fmt.Sprint(j2.ID), User: "bob"}, []int64{j2.ID}, 1)
			check(Filter{Sort: "recoveries", Desc: true}, []int64{j2.ID, j4.ID, j3.ID, j1.ID}, 4)
			check(Filter{Sort: "name", Limit: 2, Offset: 1}, []int64{j4.ID, j1.ID}, 4)
			check(Filter{Sort: "status", User: "alice"}, []int64{j3.ID, j1.ID}, 2)
			check(Filter{Sort: "id"}, []int64{j1.ID, j2.ID, j3.ID, j4.ID}, 4)
			check(Filter{Sort: "user", Desc: true, Search: "a"}, []int64{j4.ID, j2.ID, j3.ID, j1.ID}, 4)

			// A sorted page keeps a pipeline's tasks together, in order.
			rows, err := s.Queue(ctx, Filter{Sort: "name"}, t0)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range rows {
				if r.ID == j1.ID && (rows[i+1].ID != j1.ID || r.TaskID != 0 || rows[i+1].TaskID != 1) {
					t.Fatalf("pipeline rows split: %+v", rows)
				}
				if r.ID == j1.ID {
					break
				}
			}
		})
	}
}
