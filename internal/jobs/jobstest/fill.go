// Package jobstest fills a state database with managed jobs for the benchmarks of the jobs queue (in-process
// and end to end through the CLI and a real server).
package jobstest

import (
	"context"
	"fmt"
	"time"

	"github.com/stix-run/stix/internal/store"
)

// FillFinished writes n finished single-task jobs of user alice (and n/10 of bob), each with the five events of
// a job that ran, recovered once and succeeded, in one transaction. The store must be migrated (managed jobs'
// tables present) and hold no managed job yet.
func FillFinished(ctx context.Context, st store.Store, n int) error {
	sq, ok := store.SQLOf(st)
	if !ok {
		return fmt.Errorf("the store is not SQL")
	}
	tx, err := sq.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	t0 := time.Unix(1_700_000_000, 0).UnixNano()
	for i := 1; i <= n+n/10; i++ {
		user := "alice"
		if i > n {
			user = "bob"
		}
		at := t0 + int64(i)*int64(time.Minute)
		if _, err := tx.ExecContext(ctx, sq.Q(`INSERT INTO managed_jobs (id, name, user_name, submitted_at, run_timestamp, request, status, ended_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), i, fmt.Sprintf("train-%d", i), user, at, "sky-managed-x", `{"tasks":[{"task":{"yaml":"run: echo hi"}}]}`,
			"SUCCEEDED", at+int64(time.Hour)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, sq.Q(`INSERT INTO managed_job_tasks (job_id, task_id, name, resources, status, cluster, infra, cloud, region,
			started_at, ended_at, job_duration, recoveries, attempt) VALUES (?, 0, ?, '1x[A100:8]', 'SUCCEEDED', ?, 'AWS (us-east-1)', 'aws', 'us-east-1', ?, ?, ?, 1, 2)`),
			i, fmt.Sprintf("train-%d", i), fmt.Sprintf("train-%d", i), at, at+int64(time.Hour), int64(50*time.Minute)); err != nil {
			return err
		}
		// The reason words of internal/jobs (state.go); literal here so that the package's own tests can use this.
		for seq, ev := range []struct{ status, reason string }{{"PENDING", "submitted"}, {"STARTING", "launching"},
			{"RUNNING", "launched"}, {"RECOVERING", "preempted"}, {"SUCCEEDED", "succeeded"}} {
			if _, err := tx.ExecContext(ctx, sq.Q(`INSERT INTO managed_job_events (job_id, task_id, seq, at, status, reason, message) VALUES (?, 0, ?, ?, ?, ?, '')`),
				i, seq+1, at+int64(seq)*int64(time.Second), ev.status, ev.reason); err != nil {
				return err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if sq.Postgres {
		if _, err := sq.DB.ExecContext(ctx, `SELECT setval('managed_jobs_id_seq', (SELECT MAX(id) FROM managed_jobs))`); err != nil {
			return err
		}
	}
	return nil
}
