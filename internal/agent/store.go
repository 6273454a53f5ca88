package agent

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// migrations is the head's job table, DIR/jobs.db. Append, never edit: sqlitedb applies the missing ones.
var migrations = []string{`
CREATE TABLE jobs (
	id            INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: ids count from 1 per cluster
	name          TEXT NOT NULL DEFAULT '',
	user_name     TEXT NOT NULL DEFAULT '',
	status        TEXT NOT NULL,
	submitted_at  INTEGER NOT NULL, -- unix microseconds
	started_at    INTEGER,
	ended_at      INTEGER,
	exit_code     INTEGER,
	failed_rank   INTEGER,
	num_nodes     INTEGER NOT NULL,
	resources_str TEXT NOT NULL DEFAULT '',
	task_id       TEXT NOT NULL DEFAULT '',
	spec          TEXT NOT NULL,    -- JobSpec JSON without secrets
	secrets       TEXT,             -- JSON; cleared when the job ends
	placement     TEXT,             -- []Assignment JSON, one per rank
	message       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX jobs_unfinished ON jobs(status, id) WHERE status IN ('INIT', 'PENDING', 'SETTING_UP', 'RUNNING');
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`}

// store is the job table, and the secrets of its unfinished jobs (kept in files, see secretFiles).
type store struct {
	db      *sql.DB
	secrets secretFiles
}

// newStore opens the job table's secrets directory, DIR/secrets, and removes what a crash left there: the
// secrets of jobs that have ended (or were never committed).
func newStore(ctx context.Context, db *sql.DB, dir string) (store, error) {
	sf, err := openSecretFiles(filepath.Join(dir, "secrets"))
	if err != nil {
		return store{}, err
	}
	s := store{db: db, secrets: sf}
	ids, err := sf.ids()
	if err != nil {
		return store{}, err
	}
	for _, id := range ids {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM jobs WHERE id = ?
			AND status IN ('INIT', 'PENDING', 'SETTING_UP', 'RUNNING')`, id).Scan(&n); err != nil {
			return store{}, err
		}
		if n == 0 {
			if err := sf.drop(id); err != nil {
				return store{}, err
			}
		}
	}
	return s, nil
}

// withSecrets fills in a job's secrets for running it. The secrets column only holds those of agents from
// before the secrets files.
func (s *store) withSecrets(r *jobRow) error {
	m, err := s.secrets.get(r.ID)
	if err != nil || m == nil {
		return err
	}
	r.spec.Secrets = m
	return nil
}

// jobRow is a job with what only the head needs.
type jobRow struct {
	Job
	spec    JobSpec // with Secrets filled in
	place   []Assignment
	started bool
}

const jobColumns = `id, name, user_name, status, submitted_at, started_at, ended_at, exit_code, failed_rank,
	num_nodes, resources_str, task_id, spec, secrets, placement, message`

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := time.UnixMicro(v.Int64).UTC()
	return &t
}

func intPtr(v sql.NullInt64) *int {
	if !v.Valid {
		return nil
	}
	i := int(v.Int64)
	return &i
}

type scanner interface{ Scan(...any) error }

func scanJob(sc scanner) (jobRow, error) {
	var (
		r                          jobRow
		status                     string
		submitted                  int64
		started, ended, code, rank sql.NullInt64
		spec                       string
		secrets, place             sql.NullString
	)
	err := sc.Scan(&r.ID, &r.Name, &r.User, &status, &submitted, &started, &ended, &code, &rank,
		&r.NumNodes, &r.ResourcesStr, &r.TaskID, &spec, &secrets, &place, &r.Message)
	if err != nil {
		return r, err
	}
	r.Status = JobStatus(status)
	r.SubmittedAt = time.UnixMicro(submitted).UTC()
	r.StartedAt, r.EndedAt = fromMicros(started), fromMicros(ended)
	r.ExitCode, r.FailedRank = intPtr(code), intPtr(rank)
	if err := json.Unmarshal([]byte(spec), &r.spec); err != nil {
		return r, fmt.Errorf("job %d: decode spec: %w", r.ID, err)
	}
	if secrets.Valid {
		if err := json.Unmarshal([]byte(secrets.String), &r.spec.Secrets); err != nil {
			return r, fmt.Errorf("job %d: decode secrets: %w", r.ID, err)
		}
	}
	if place.Valid {
		if err := json.Unmarshal([]byte(place.String), &r.place); err != nil {
			return r, fmt.Errorf("job %d: decode placement: %w", r.ID, err)
		}
		r.started = true
		for _, a := range r.place {
			r.Nodes = append(r.Nodes, a.Node)
		}
	}
	return r, nil
}

// insert adds a PENDING job; the id is allocated by SQLite.
func (s *store) insert(ctx context.Context, spec JobSpec, cluster string, now time.Time) (int64, error) {
	secrets := spec.Secrets
	spec.Secrets = nil
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return 0, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("submit: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO jobs (name, user_name, status, submitted_at, num_nodes,
		resources_str, spec) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		spec.Name, spec.User, StatusPending, micros(now), spec.NumNodes, spec.ResourcesStr, string(specJSON))
	if err != nil {
		return 0, fmt.Errorf("submit: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	// The task id needs the job id, so it is set in the same transaction.
	if _, err := tx.ExecContext(ctx, `UPDATE jobs SET task_id = ? WHERE id = ?`,
		taskID(spec.RunTimestamp, cluster, id), id); err != nil {
		return 0, fmt.Errorf("submit: %w", err)
	}
	// The file is written before the commit, so a committed job always has its secrets; a file whose job did
	// not commit is removed here or, after a crash, by newStore.
	if err := s.secrets.put(id, secrets); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, errors.Join(fmt.Errorf("submit: %w", err), s.secrets.drop(id))
	}
	return id, nil
}

func (s *store) get(ctx context.Context, id int64) (jobRow, error) {
	r, err := scanJob(s.db.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("job %d %w", id, ErrNotFound)
	}
	return r, err
}

// list returns jobs newest first.
func (s *store) list(ctx context.Context, q JobsQuery) ([]jobRow, error) {
	var where []string
	var args []any
	if q.SkipFinished {
		where = append(where, `status IN ('INIT', 'PENDING', 'SETTING_UP', 'RUNNING')`)
	}
	if q.User != "" {
		where = append(where, `user_name = ?`)
		args = append(args, q.User)
	}
	query := `SELECT ` + jobColumns + ` FROM jobs`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	return s.query(ctx, query+` ORDER BY id DESC`, args...)
}

func (s *store) query(ctx context.Context, query string, args ...any) ([]jobRow, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []jobRow
	for rows.Next() {
		r, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// eachPending calls fn on pending jobs oldest first until it returns false. Their secrets are not read: the
// scheduler reads them only for the jobs it starts (withSecrets).
func (s *store) eachPending(ctx context.Context, fn func(jobRow) bool) error {
	rows, err := s.db.QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs
		WHERE status IN ('INIT', 'PENDING') ORDER BY id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanJob(rows)
		if err != nil {
			return err
		}
		if !fn(r) {
			break
		}
	}
	return rows.Err()
}

// active returns the jobs that hold resources (SETTING_UP or RUNNING), oldest first.
func (s *store) active(ctx context.Context) ([]jobRow, error) {
	rows, err := s.query(ctx, `SELECT `+jobColumns+` FROM jobs WHERE status IN ('SETTING_UP', 'RUNNING') ORDER BY id`)
	for i := range rows {
		if err == nil {
			err = s.withSecrets(&rows[i])
		}
	}
	return rows, err
}

// start moves a pending job to status with its placement; false if it was no longer pending.
func (s *store) start(ctx context.Context, id int64, status JobStatus, place []Assignment, now time.Time) (bool, error) {
	b, err := json.Marshal(place)
	if err != nil {
		return false, err
	}
	var started any
	if status == StatusRunning {
		started = micros(now)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE jobs SET status = ?, placement = ?, started_at = ?
		WHERE id = ? AND status IN ('INIT', 'PENDING')`, status, string(b), started, id)
	return affected(res, err)
}

// setRunning records the end of setup.
func (s *store) setRunning(ctx context.Context, id int64, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE jobs SET status = ?, started_at = ? WHERE id = ? AND status = ?`,
		StatusRunning, micros(now), id, StatusSettingUp)
	return err
}

// outcome is how a job ended.
type outcome struct {
	Status     JobStatus
	ExitCode   *int
	FailedRank *int
	Message    string
}

// finish records a terminal state unless the job already has one, and drops its secrets (the column for jobs of
// older agents).
func (s *store) finish(ctx context.Context, id int64, o outcome, now time.Time) (bool, error) {
	var code, rank any
	if o.ExitCode != nil {
		code = *o.ExitCode
	}
	if o.FailedRank != nil {
		rank = *o.FailedRank
	}
	res, err := s.db.ExecContext(ctx, `UPDATE jobs SET status = ?, exit_code = ?, failed_rank = ?, message = ?,
		ended_at = ?, secrets = NULL
		WHERE id = ? AND status IN ('INIT', 'PENDING', 'SETTING_UP', 'RUNNING')`,
		o.Status, code, rank, o.Message, micros(now), id)
	ok, err := affected(res, err)
	if err != nil {
		return ok, err
	}
	if err := s.secrets.drop(id); err != nil {
		// The end is recorded; the file of a finished job goes at the head's next start (newStore).
		return ok, fmt.Errorf("job %d ended, but its secrets file stays until the agent restarts: %w", id, err)
	}
	return ok, nil
}

func affected(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (s *store) countUnfinished(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM jobs
		WHERE status IN ('INIT', 'PENDING', 'SETTING_UP', 'RUNNING')`).Scan(&n)
	return n, err
}

// getSetting decodes a JSON setting into v; ok is false when it is not set.
func (s *store) getSetting(ctx context.Context, key string, v any) (bool, error) {
	var raw string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, json.Unmarshal([]byte(raw), v)
}

func (s *store) putSetting(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, string(b))
	return err
}
