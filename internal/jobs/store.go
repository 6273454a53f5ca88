package jobs

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/store"
)

// Store keeps managed jobs in the server's state database (tables of store migration 5), SQLite or PostgreSQL.
// A job's rows are written only by the controller that holds its lease, except cancel_requested, which any
// server sets.
type Store struct {
	db *sql.DB
	q  func(string) string
}

// OpenStore uses the managed-job tables of st.
func OpenStore(st store.Store) (*Store, error) {
	sq, ok := store.SQLOf(st)
	if !ok {
		return nil, errors.New("managed jobs: the state store is not a SQL database")
	}
	return &Store{db: sq.DB, q: sq.Q}, nil
}

// Job is a managed job's row.
type Job struct {
	ID           int64
	Name         string
	User         string
	Workspace    string
	SubmittedAt  time.Time
	RunTimestamp string // SkyPilot's run id of the job, the first part of its tasks' SKYPILOT_TASK_ID
	Spec         JobSpec
	Status       api.ManagedJobStatus
	CurrentTask  int
	Cancel       bool // cancel_requested
	EndedAt      time.Time
	Pool         string // the pool it was submitted to; "" for a job with clusters of its own
}

// JobSpec is what the controller needs to run a job, again after a restart: its tasks as the core reads them.
type JobSpec struct {
	Tasks []TaskSpec `json:"tasks"`
	// Rank and NumJobs are SKYPILOT_JOB_RANK and SKYPILOT_NUM_JOBS of a job submitted to a pool.
	Rank    int `json:"rank,omitempty"`
	NumJobs int `json:"num_jobs,omitempty"`
}

// TaskSpec is one task of a job: the task as it travels to the core, and its recovery.
type TaskSpec struct {
	Task     api.TaskSpec `json:"task"`
	Recovery Recovery     `json:"recovery"`
}

// Task is one task's row.
type Task struct {
	JobID        int64
	TaskID       int
	Name         string
	Resources    string
	Status       api.ManagedJobStatus
	Cluster      string
	ClusterJobID int
	Infra        string
	Place        Place
	StartedAt    time.Time
	EndedAt      time.Time
	RunningSince time.Time // set while RUNNING: the start of the span JobDuration does not count yet
	JobDuration  time.Duration
	Recoveries   int
	Restarts     int
	Attempt      int // launches so far: the task's output of launch n is kept as run n
	Failure      string
}

// ErrNoJob is matched by the error for a job ID with no row.
var ErrNoJob = errors.New("no such managed job")

// Insert records a new job and its tasks (all PENDING) and sets j.ID.
func (s *Store) Insert(ctx context.Context, j *Job, tasks []Task, at time.Time) error {
	spec, err := json.Marshal(j.Spec)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, s.q(`INSERT INTO managed_jobs (name, user_name, workspace, submitted_at, run_timestamp, request, status, pool)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			j.Name, j.User, j.Workspace, j.SubmittedAt.UnixNano(), j.RunTimestamp, string(spec), string(api.ManagedPending), j.Pool).Scan(&j.ID)
		if err != nil {
			return err
		}
		for i := range tasks {
			t := &tasks[i]
			t.JobID, t.TaskID, t.Status = j.ID, i, api.ManagedPending
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO managed_job_tasks (job_id, task_id, name, resources, status) VALUES (?, ?, ?, ?, ?)`),
				j.ID, i, t.Name, t.Resources, string(t.Status)); err != nil {
				return err
			}
			if err := s.addEvent(ctx, tx, j.ID, i, api.ManagedJobEvent{At: at, Status: api.ManagedPending, Reason: ReasonSubmitted}); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (s *Store) addEvent(ctx context.Context, tx *sql.Tx, job int64, task int, ev api.ManagedJobEvent) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO managed_job_events (job_id, task_id, seq, at, status, reason, message)
		SELECT ?, ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ? FROM managed_job_events WHERE job_id = ? AND task_id = ?`),
		job, task, ev.At.UnixNano(), string(ev.Status), separators.Replace(ev.Reason), separators.Replace(ev.Message), job, task)
	return err
}

// Update writes task t's row and the job's status and current task, and records ev (when its Status is set)
// as the task's state change, all at once.
func (s *Store) Update(ctx context.Context, jobStatus api.ManagedJobStatus, t *Task, ev api.ManagedJobEvent) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`UPDATE managed_job_tasks SET status = ?, cluster = ?, cluster_job_id = ?, infra = ?,
			cloud = ?, region = ?, started_at = ?, ended_at = ?, running_since = ?, job_duration = ?, recoveries = ?, restarts = ?,
			attempt = ?, failure_reason = ? WHERE job_id = ? AND task_id = ?`),
			string(t.Status), t.Cluster, t.ClusterJobID, t.Infra, t.Place.Cloud, t.Place.Region, nullTime(t.StartedAt),
			nullTime(t.EndedAt), nullTime(t.RunningSince), int64(t.JobDuration), t.Recoveries, t.Restarts, t.Attempt, t.Failure,
			t.JobID, t.TaskID)
		if err != nil {
			return err
		}
		var ended sql.NullInt64
		if jobStatus.Terminal() {
			ended = nullTime(t.EndedAt)
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE managed_jobs SET status = ?, current_task = ?, ended_at = ? WHERE id = ?`),
			string(jobStatus), t.TaskID, ended, t.JobID); err != nil {
			return err
		}
		if ev.Status == "" {
			return nil
		}
		return s.addEvent(ctx, tx, t.JobID, t.TaskID, ev)
	})
}

// RequestCancel marks an unfinished job to be cancelled and reports whether it was unfinished.
func (s *Store) RequestCancel(ctx context.Context, id int64) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE managed_jobs SET cancel_requested = TRUE WHERE id = ? AND status NOT IN `+terminalList), id)
	if err != nil {
		return false, fmt.Errorf("cancel managed job %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// terminalList is the final states as a SQL list.
var terminalList = func() string {
	var l []string
	for _, s := range []api.ManagedJobStatus{api.ManagedSucceeded, api.ManagedCancelled, api.ManagedFailed, api.ManagedFailedSetup,
		api.ManagedFailedPrechecks, api.ManagedFailedNoResource, api.ManagedFailedController} {
		l = append(l, "'"+string(s)+"'")
	}
	return "(" + strings.Join(l, ",") + ")"
}()

const jobColumns = `id, name, user_name, workspace, submitted_at, run_timestamp, request, status, current_task, cancel_requested, ended_at, pool`

func scanJob(row interface{ Scan(...any) error }) (*Job, error) {
	var (
		j         Job
		submitted int64
		spec      string
		status    string
		ended     sql.NullInt64
	)
	if err := row.Scan(&j.ID, &j.Name, &j.User, &j.Workspace, &submitted, &j.RunTimestamp, &spec, &status, &j.CurrentTask, &j.Cancel, &ended, &j.Pool); err != nil {
		return nil, err
	}
	j.SubmittedAt, j.Status, j.EndedAt = time.Unix(0, submitted), api.ManagedJobStatus(status), goTime(ended)
	if err := json.Unmarshal([]byte(spec), &j.Spec); err != nil {
		return nil, fmt.Errorf("managed job %d: its recorded request: %w", j.ID, err)
	}
	return &j, nil
}

// Job returns a job and its tasks, or an error matching ErrNoJob.
func (s *Store) Job(ctx context.Context, id int64) (*Job, []Task, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, s.q(`SELECT `+jobColumns+` FROM managed_jobs WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, fmt.Errorf("managed job %d: %w", id, ErrNoJob)
	}
	if err != nil {
		return nil, nil, err
	}
	tasks, err := s.tasks(ctx, `WHERE job_id = ?`, id)
	return j, tasks, err
}

// CancelsAmong returns those of the jobs whose cancellation was asked for.
func (s *Store) CancelsAmong(ctx context.Context, ids []int64) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return s.ids(ctx, `SELECT id FROM managed_jobs WHERE cancel_requested AND id IN (`+strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")+`)`, args...)
}

const taskColumns = `job_id, task_id, name, resources, status, cluster, cluster_job_id, infra, cloud, region, started_at, ended_at,
	running_since, job_duration, recoveries, restarts, attempt, failure_reason`

func (s *Store) tasks(ctx context.Context, where string, args ...any) ([]Task, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+taskColumns+` FROM managed_job_tasks `+where+` ORDER BY job_id DESC, task_id`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Task
	for rows.Next() {
		var (
			t                         Task
			status                    string
			started, ended, runningAt sql.NullInt64
			dur                       int64
		)
		if err := rows.Scan(&t.JobID, &t.TaskID, &t.Name, &t.Resources, &status, &t.Cluster, &t.ClusterJobID, &t.Infra,
			&t.Place.Cloud, &t.Place.Region, &started, &ended, &runningAt, &dur, &t.Recoveries, &t.Restarts, &t.Attempt, &t.Failure); err != nil {
			return nil, err
		}
		t.Status, t.StartedAt, t.EndedAt, t.RunningSince, t.JobDuration = api.ManagedJobStatus(status), goTime(started), goTime(ended), goTime(runningAt), time.Duration(dur)
		out = append(out, t)
	}
	return out, rows.Err()
}

// Unfinished returns the IDs of every job not in a final state, oldest first.
func (s *Store) Unfinished(ctx context.Context) ([]int64, error) {
	return s.ids(ctx, `SELECT id FROM managed_jobs WHERE status NOT IN `+terminalList+` ORDER BY id`)
}

func (s *Store) ids(ctx context.Context, query string, args ...any) ([]int64, error) {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// Filter selects jobs: User "" means every user's.
type Filter struct {
	User         string
	IDs          []int64
	Name         string
	Pool         string
	SkipFinished bool
	Limit        int
	// Offset skips the newest Offset jobs (before Limit).
	Offset int
	// Events reads each task's events into its row (Queue); without it rows carry none.
	Events bool
	// Status keeps jobs whose job-level state (job_state of derivedFrom) is Status.
	Status api.ManagedJobStatus
	// Search keeps jobs whose ID, name, user or first task's infra or resources contain it, in any case.
	Search string
	// Sort is a key of sortSQL ("" or "id": by ID); Desc reverses it. Sort "" is newest first.
	Sort string
	Desc bool
}

// derivedFrom is the jobs with what the queue derives from their tasks, under the table's own name (so that
// every condition and column reads the same), one read of the tasks for all jobs:
//   - job_state: the first task (by task ID) that is unfinished, failed or cancelled, else the last task's
//     state, as the queue shows it. Between two tasks of a pipeline that is the next task's PENDING, as
//     SkyPilot reports it; the job row's own status column (STARTING there) is the controller's.
//   - job_recoveries: the tasks' recoveries summed.
//   - job_text: what Filter.Search looks in, lower-cased: ID, name, user, the first task's infra and resources.
var derivedFrom = func() string {
	open := `(status NOT IN ` + terminalList + ` OR status LIKE 'FAILED%' OR status = 'CANCELLED')`
	return ` FROM (SELECT managed_jobs.*, COALESCE(s.status, managed_jobs.status) AS job_state,
		COALESCE(a.rec, 0) AS job_recoveries,
		LOWER(CAST(managed_jobs.id AS TEXT) || ' ' || managed_jobs.name || ' ' || managed_jobs.user_name || ' ' ||
			COALESCE(t0.infra || ' ' || t0.resources, '')) AS job_text
		FROM managed_jobs
		LEFT JOIN (SELECT job_id, SUM(recoveries) AS rec, MIN(CASE WHEN ` + open + ` THEN task_id END) AS first_open,
			MAX(task_id) AS last_task, MIN(task_id) AS first_task FROM managed_job_tasks GROUP BY job_id) a ON a.job_id = managed_jobs.id
		LEFT JOIN managed_job_tasks s ON s.job_id = managed_jobs.id AND s.task_id = COALESCE(a.first_open, a.last_task)
		LEFT JOIN managed_job_tasks t0 ON t0.job_id = managed_jobs.id AND t0.task_id = a.first_task) managed_jobs`
}

// from is the FROM clause f reads: the table, or with the derived columns where f filters or sorts by them.
func (f Filter) from() string {
	if f.Status != "" || f.Search != "" || f.Sort == "status" || f.Sort == "recoveries" {
		return derivedFrom()
	}
	return ` FROM managed_jobs`
}

// sortSQL is each sort key's expression.
func sortSQL(key string) (string, bool) {
	switch key {
	case "", "id":
		return "", true
	case "name":
		return "name", true
	case "user":
		return "user_name", true
	case "submitted":
		return "submitted_at", true
	case "status":
		return "job_state", true
	case "recoveries":
		return "job_recoveries", true
	}
	return "", false
}

// order is f's ORDER BY clause: ties by ID, so that a page is the same from one read to the next.
func (f Filter) order() string {
	key, ok := sortSQL(f.Sort)
	if f.Sort == "" || !ok {
		return ` ORDER BY id DESC`
	}
	dir := " ASC"
	if f.Desc {
		dir = " DESC"
	}
	if key == "" {
		return ` ORDER BY id` + dir
	}
	return ` ORDER BY ` + key + dir + `, id` + dir
}

func (f Filter) where() (string, []any) {
	var (
		conds []string
		args  []any
	)
	if f.User != "" {
		conds, args = append(conds, "user_name = ?"), append(args, f.User)
	}
	if f.Name != "" {
		conds, args = append(conds, "name = ?"), append(args, f.Name)
	}
	if f.Pool != "" {
		conds, args = append(conds, "pool = ?"), append(args, f.Pool)
	}
	if f.SkipFinished {
		conds = append(conds, "status NOT IN "+terminalList)
	}
	if len(f.IDs) > 0 {
		ph := strings.TrimSuffix(strings.Repeat("?,", len(f.IDs)), ",")
		conds = append(conds, "id IN ("+ph+")")
		for _, id := range f.IDs {
			args = append(args, id)
		}
	}
	if f.Status != "" {
		conds, args = append(conds, "job_state = ?"), append(args, string(f.Status))
	}
	if f.Search != "" {
		r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
		conds = append(conds, `job_text LIKE ? ESCAPE '\'`)
		args = append(args, "%"+r.Replace(strings.ToLower(f.Search))+"%")
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// Jobs returns the jobs f selects, in f's order (newest first by default).
func (s *Store) Jobs(ctx context.Context, f Filter) ([]*Job, error) {
	return s.jobs(ctx, f, jobColumns, scanJob)
}

// queueColumns are what `jobs queue` shows of a job: no recorded request to decode.
const queueColumns = `id, name, user_name, workspace, submitted_at, pool`

func scanQueueJob(row interface{ Scan(...any) error }) (*Job, error) {
	var (
		j         Job
		submitted int64
	)
	if err := row.Scan(&j.ID, &j.Name, &j.User, &j.Workspace, &submitted, &j.Pool); err != nil {
		return nil, err
	}
	j.SubmittedAt = time.Unix(0, submitted)
	return &j, nil
}

func (s *Store) jobs(ctx context.Context, f Filter, columns string, scan func(interface{ Scan(...any) error }) (*Job, error)) ([]*Job, error) {
	where, args := f.where()
	query := `SELECT ` + columns + f.from() + where + f.order()
	switch {
	case f.Limit > 0:
		query += fmt.Sprintf(" LIMIT %d", f.Limit)
	case f.Offset > 0:
		query += fmt.Sprintf(" LIMIT %d", math.MaxInt32) // SQLite takes OFFSET only after a LIMIT
	}
	if f.Offset > 0 {
		query += fmt.Sprintf(" OFFSET %d", f.Offset)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Job
	for rows.Next() {
		j, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// Count is how many jobs f selects, whatever its Limit and Offset.
func (s *Store) Count(ctx context.Context, f Filter) (int, error) {
	where, args := f.where()
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*)`+f.from()+where), args...).Scan(&n)
	return n, err
}

// Queue returns the rows of `jobs queue` for the jobs f selects: one per task, newest job first, with each
// task's events.
func (s *Store) Queue(ctx context.Context, f Filter, now time.Time) ([]api.ManagedJob, error) {
	jobs, err := s.jobs(ctx, f, queueColumns, scanQueueJob)
	if err != nil || len(jobs) == 0 {
		return nil, err
	}
	byID := make(map[int64]*Job, len(jobs))
	for _, j := range jobs {
		byID[j.ID] = j
	}
	// The selected jobs' IDs bound the task and event scans; the jobs map keeps only the selected ones.
	oldest, newest := jobs[0].ID, jobs[0].ID
	for _, j := range jobs {
		oldest, newest = min(oldest, j.ID), max(newest, j.ID)
	}
	// The tasks and their events are read at once, on two connections (readers do not block each other).
	var (
		events map[taskKey][]api.ManagedJobEvent
		evErr  error
		done   = make(chan struct{})
	)
	go func() {
		defer close(done)
		if f.Events {
			events, evErr = s.events(ctx, oldest, newest)
		}
	}()
	tasks, err := s.tasks(ctx, `WHERE job_id BETWEEN ? AND ?`, oldest, newest)
	<-done
	if err != nil {
		return nil, err
	}
	if evErr != nil {
		return nil, evErr
	}
	out := make([]api.ManagedJob, 0, len(tasks))
	for _, t := range tasks {
		j, ok := byID[t.JobID]
		if !ok {
			continue
		}
		out = append(out, row(j, t, events[taskKey{t.JobID, t.TaskID}], now))
	}
	if f.Sort != "" {
		// Another order than newest first: the rows follow the jobs', a job's tasks kept together in order.
		at := make(map[int64]int, len(jobs))
		for i, j := range jobs {
			at[j.ID] = i
		}
		slices.SortStableFunc(out, func(a, b api.ManagedJob) int { return cmp.Compare(at[a.ID], at[b.ID]) })
	}
	return out, nil
}

type taskKey struct {
	job  int64
	task int
}

func (s *Store) events(ctx context.Context, oldest, newest int64) (map[taskKey][]api.ManagedJobEvent, error) {
	// One row per task, its events joined by the database: a queue of many finished jobs reads a fifth of the
	// rows it would otherwise (the cost is per row read through database/sql, not per byte).
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT job_id, task_id, string_agg(CAST(at AS TEXT) || ? || status || ? || reason || ? || message, ? ORDER BY seq)
		FROM managed_job_events WHERE job_id BETWEEN ? AND ? GROUP BY job_id, task_id`),
		fieldSep, fieldSep, fieldSep, eventSep, oldest, newest)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[taskKey][]api.ManagedJobEvent{}
	for rows.Next() {
		var (
			k   taskKey
			agg string
		)
		if err := rows.Scan(&k.job, &k.task, &agg); err != nil {
			return nil, err
		}
		evs := make([]api.ManagedJobEvent, 0, strings.Count(agg, eventSep)+1)
		for _, e := range strings.Split(agg, eventSep) {
			f := strings.SplitN(e, fieldSep, 4)
			if len(f) != 4 {
				return nil, fmt.Errorf("managed job %d task %d: malformed event %q", k.job, k.task, e)
			}
			at, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("managed job %d task %d: event time %q: %w", k.job, k.task, f[0], err)
			}
			evs = append(evs, api.ManagedJobEvent{At: time.Unix(0, at), Status: api.ManagedJobStatus(f[1]), Reason: f[2], Message: f[3]})
		}
		out[k] = evs
	}
	return out, rows.Err()
}

// The separators of events joined by the database (see events); an event's text never holds them.
const (
	fieldSep = "\x1f"
	eventSep = "\x1e"
)

var separators = strings.NewReplacer(fieldSep, " ", eventSep, " ")

// row is a task as `jobs queue` shows it; the job duration of a RUNNING task counts up to now.
func row(j *Job, t Task, events []api.ManagedJobEvent, now time.Time) api.ManagedJob {
	dur := t.JobDuration
	if !t.RunningSince.IsZero() {
		dur += now.Sub(t.RunningSince)
	}
	m := api.ManagedJob{ID: j.ID, TaskID: t.TaskID, Name: j.Name, TaskName: t.Name, User: j.User, Workspace: j.Workspace,
		Status: t.Status, Resources: t.Resources, Infra: t.Infra, Cluster: t.Cluster, SubmittedAt: j.SubmittedAt,
		JobDuration: api.Seconds(dur), Recoveries: t.Recoveries, FailureReason: t.Failure, Events: events, Pool: j.Pool}
	if !t.StartedAt.IsZero() {
		s := t.StartedAt
		m.StartedAt = &s
	}
	if !t.EndedAt.IsZero() {
		e := t.EndedAt
		m.EndedAt = &e
	}
	if t.Status.Terminal() {
		m.Cluster = ""
	}
	return m
}

func nullTime(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

func goTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64)
}
