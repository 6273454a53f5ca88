package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stix-run/stix/api"
)

// PoolRow is a pool's row (store migration 9).
type PoolRow struct {
	Name      string
	User      string
	CreatedAt time.Time
	// Version counts the workers' tasks applied: a worker of an older version is replaced once idle.
	Version   int
	Workers   int
	Spec      api.TaskSpec // the workers' task, with its pool: section
	Resources string       // what each worker asks for, as `jobs queue` shows it
	Down      bool         // down_requested
}

// WorkerRow is one worker's row.
type WorkerRow struct {
	Pool       string
	ID         int
	Version    int
	Status     api.WorkerStatus
	Cluster    string
	JobID      int64 // the managed job that holds it; 0 when idle
	LaunchedAt time.Time
	Infra      string
	Message    string
}

// ErrNoPool is matched by the error for a pool name with no row.
var ErrNoPool = errors.New("no such pool")

// ApplyPool creates pool p (version 1), or updates the existing one: its number of workers, and, when spec is
// set and differs from the recorded one, its task (the version goes up). It returns the pool as recorded.
func (s *Store) ApplyPool(ctx context.Context, p PoolRow, spec *api.TaskSpec) (out PoolRow, created bool, err error) {
	var specJSON []byte
	if spec != nil {
		if specJSON, err = json.Marshal(spec); err != nil {
			return out, false, err
		}
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		cur, err := scanPool(tx.QueryRowContext(ctx, s.q(`SELECT `+poolColumns+` FROM pools WHERE name = ?`), p.Name))
		if errors.Is(err, sql.ErrNoRows) {
			if spec == nil {
				return fmt.Errorf("pool %s: %w", p.Name, ErrNoPool)
			}
			created = true
			out = p
			out.Version, out.Spec = 1, *spec
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO pools (name, user_name, created_at, version, workers, spec, resources) VALUES (?, ?, ?, ?, ?, ?, ?)`),
				p.Name, p.User, p.CreatedAt.UnixNano(), 1, p.Workers, string(specJSON), p.Resources)
			return err
		}
		if err != nil {
			return err
		}
		if cur.Down {
			return badRequest("pool %s is being deleted: wait for `stix jobs pool status %s` to no longer list it, then apply again", p.Name, p.Name)
		}
		out = *cur
		out.Workers = p.Workers
		if spec != nil {
			old, _ := json.Marshal(cur.Spec)
			if string(old) != string(specJSON) {
				out.Version, out.Spec, out.Resources = cur.Version+1, *spec, p.Resources
			}
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE pools SET workers = ?, version = ?, spec = ?, resources = ? WHERE name = ?`),
			out.Workers, out.Version, mustJSON(out.Spec), out.Resources, p.Name)
		return err
	})
	return out, created, err
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

const poolColumns = `name, user_name, created_at, version, workers, spec, resources, down_requested`

func scanPool(row interface{ Scan(...any) error }) (*PoolRow, error) {
	var (
		p       PoolRow
		created int64
		spec    string
	)
	if err := row.Scan(&p.Name, &p.User, &created, &p.Version, &p.Workers, &spec, &p.Resources, &p.Down); err != nil {
		return nil, err
	}
	p.CreatedAt = time.Unix(0, created)
	if err := json.Unmarshal([]byte(spec), &p.Spec); err != nil {
		return nil, fmt.Errorf("pool %s: its recorded task: %w", p.Name, err)
	}
	return &p, nil
}

// Pool returns a pool and its workers (by ID), or an error matching ErrNoPool.
func (s *Store) Pool(ctx context.Context, name string) (*PoolRow, []WorkerRow, error) {
	p, err := scanPool(s.db.QueryRowContext(ctx, s.q(`SELECT `+poolColumns+` FROM pools WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, fmt.Errorf("pool %s: %w", name, ErrNoPool)
	}
	if err != nil {
		return nil, nil, err
	}
	ws, err := s.workers(ctx, `WHERE pool = ?`, name)
	return p, ws, err
}

// PoolNames lists every pool, oldest first: each has a runner until it is deleted.
func (s *Store) PoolNames(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT name FROM pools ORDER BY created_at, name`))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// RequestPoolDown marks a pool to be deleted and reports whether it exists.
func (s *Store) RequestPoolDown(ctx context.Context, name string) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE pools SET down_requested = TRUE WHERE name = ?`), name)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// DeletePool deletes a pool and its workers' rows.
func (s *Store) DeletePool(ctx context.Context, name string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM pool_workers WHERE pool = ?`), name); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`DELETE FROM pools WHERE name = ?`), name)
		return err
	})
}

const workerColumns = `pool, worker_id, version, status, cluster, job_id, launched_at, infra, message`

func (s *Store) workers(ctx context.Context, where string, args ...any) ([]WorkerRow, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+workerColumns+` FROM pool_workers `+where+` ORDER BY pool, worker_id`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []WorkerRow
	for rows.Next() {
		var (
			w        WorkerRow
			status   string
			job      sql.NullInt64
			launched sql.NullInt64
		)
		if err := rows.Scan(&w.Pool, &w.ID, &w.Version, &status, &w.Cluster, &job, &launched, &w.Infra, &w.Message); err != nil {
			return nil, err
		}
		w.Status, w.JobID, w.LaunchedAt = api.WorkerStatus(status), job.Int64, goTime(launched)
		out = append(out, w)
	}
	return out, rows.Err()
}

// PutWorker writes a worker's row, keeping the job that holds it (job_id is only set by ClaimWorker and cleared
// by ReleaseWorker).
func (s *Store) PutWorker(ctx context.Context, w WorkerRow) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO pool_workers (pool, worker_id, version, status, cluster, launched_at, infra, message)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (pool, worker_id) DO UPDATE SET version = excluded.version, status = excluded.status, cluster = excluded.cluster,
			launched_at = excluded.launched_at, infra = excluded.infra, message = excluded.message`),
		w.Pool, w.ID, w.Version, string(w.Status), w.Cluster, nullTime(w.LaunchedAt), w.Infra, w.Message)
	return err
}

// RetireWorker marks an idle worker SHUTTING_DOWN, and reports whether it was idle (no job claimed it meanwhile).
func (s *Store) RetireWorker(ctx context.Context, pool string, id int) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE pool_workers SET status = ? WHERE pool = ? AND worker_id = ? AND job_id IS NULL`),
		string(api.WorkerShuttingDown), pool, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// DeleteWorker deletes a worker's row.
func (s *Store) DeleteWorker(ctx context.Context, pool string, id int) error {
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM pool_workers WHERE pool = ? AND worker_id = ?`), pool, id)
	return err
}

// ClaimWorker gives managed job job a worker of pool: the one it already holds (a controller restarted), else
// the idle READY worker of the pool's current version with the lowest ID, in one statement so that two jobs
// never claim the same worker, and only when no older job of the pool is waiting for one (first come, first
// served). nil means none is free; a pool that is gone or being deleted is ErrNoPool.
func (s *Store) ClaimWorker(ctx context.Context, pool string, job int64) (*WorkerRow, error) {
	if w, err := s.workers(ctx, `WHERE pool = ? AND job_id = ?`, pool, job); err != nil || len(w) > 0 {
		if len(w) > 0 {
			return &w[0], nil
		}
		return nil, err
	}
	var down bool
	err := s.db.QueryRowContext(ctx, s.q(`SELECT down_requested FROM pools WHERE name = ?`), pool).Scan(&down)
	if errors.Is(err, sql.ErrNoRows) || err == nil && down {
		return nil, fmt.Errorf("pool %s: %w", pool, ErrNoPool)
	}
	if err != nil {
		return nil, err
	}
	// First come, first served: a job waits while an older one of the pool waits for a worker too.
	if _, err := s.db.ExecContext(ctx, s.q(`UPDATE pool_workers SET job_id = ? WHERE pool = ? AND job_id IS NULL AND status = ? AND worker_id = (
			SELECT MIN(w.worker_id) FROM pool_workers w JOIN pools p ON p.name = w.pool
			WHERE w.pool = ? AND w.job_id IS NULL AND w.status = ? AND w.version = p.version)
		AND NOT EXISTS (SELECT 1 FROM managed_jobs j WHERE j.pool = ? AND j.id < ? AND NOT j.cancel_requested
			AND j.status IN (?, ?, ?) AND NOT EXISTS (SELECT 1 FROM pool_workers h WHERE h.pool = j.pool AND h.job_id = j.id))`),
		job, pool, string(api.WorkerReady), pool, string(api.WorkerReady),
		pool, job, string(api.ManagedPending), string(api.ManagedStarting), string(api.ManagedRecovering)); err != nil {
		return nil, err
	}
	w, err := s.workers(ctx, `WHERE pool = ? AND job_id = ?`, pool, job)
	if err != nil || len(w) == 0 {
		return nil, err
	}
	return &w[0], nil
}

// ReleaseWorker frees the worker job holds in pool; lost marks it FAILED (its cluster is gone), for the pool's
// runner to replace.
func (s *Store) ReleaseWorker(ctx context.Context, pool string, job int64, lost bool, msg string) error {
	if lost {
		_, err := s.db.ExecContext(ctx, s.q(`UPDATE pool_workers SET job_id = NULL, status = ?, message = ? WHERE pool = ? AND job_id = ?`),
			string(api.WorkerFailed), msg, pool, job)
		return err
	}
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE pool_workers SET job_id = NULL WHERE pool = ? AND job_id = ?`), pool, job)
	return err
}
