package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/sqlitedb"
)

// The request table: every mutating call is a request, recorded before it runs and kept after it ends, with
// its events in order. created and finished are Unix nanoseconds.
var migrations = []string{`
CREATE TABLE requests (
	id       TEXT PRIMARY KEY,
	name     TEXT NOT NULL,
	user     TEXT NOT NULL,
	cluster  TEXT NOT NULL DEFAULT '',
	created  INTEGER NOT NULL,
	finished INTEGER,
	status   TEXT NOT NULL,
	body     TEXT NOT NULL,
	result   TEXT,
	error    TEXT
);
CREATE INDEX requests_created ON requests(created);
CREATE INDEX requests_status ON requests(status);
CREATE TABLE request_events (
	request_id TEXT NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
	seq        INTEGER NOT NULL,
	event      TEXT NOT NULL,
	PRIMARY KEY (request_id, seq)
);`}

// requests records requests in the server's SQLite database and runs them.
type requests struct {
	db *sql.DB

	mu   sync.Mutex
	live map[string]*liveRequest // requests running in this process
	wg   sync.WaitGroup

	// metrics hear each state a request run here enters (metrics.go); nil counts nothing.
	metrics *serverMetrics
}

// liveRequest is a request running in this process: how to cancel it, and a channel closed (and replaced) each
// time it records something, which followers wait on.
type liveRequest struct {
	cancel  context.CancelFunc
	changed chan struct{}
}

// errServerStopped is the cause of the cancellation of the requests in flight when the server stops.
var errServerStopped = errors.New("the API server stopped")

// restartedError is the outcome of a request that was in flight when the server died.
var restartedError = &api.Error{Code: api.CodeServerRestarted,
	Message: "the API server stopped while the request was in flight; its outcome is not known",
	Hint:    "check the cluster with `stix status -r` and submit the request again if needed"}

// openRequests opens (creating) dir/requests.db and ends every request a previous server process left in
// flight: it was killed (or stopped) before they ended, so they FAIL with restartedError rather than stay
// RUNNING forever.
func openRequests(ctx context.Context, dir string) (*requests, int, error) {
	db, err := sqlitedb.OpenContext(ctx, filepath.Join(dir, "requests.db"), migrations)
	if err != nil {
		return nil, 0, err
	}
	r := &requests{db: db, live: map[string]*liveRequest{}}
	n, err := r.endInFlight(ctx, restartedError)
	if err != nil {
		db.Close()
		return nil, 0, err
	}
	return r, n, nil
}

// endInFlight fails every PENDING or RUNNING request not running in this process with e.
func (r *requests) endInFlight(ctx context.Context, e *api.Error) (int, error) {
	b, _ := json.Marshal(e)
	r.mu.Lock()
	defer r.mu.Unlock()
	rows, err := r.db.QueryContext(ctx, `SELECT id FROM requests WHERE status IN ('PENDING','RUNNING')`)
	if err != nil {
		return 0, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		if r.live[id] == nil {
			ids = append(ids, id)
		}
	}
	rows.Close()
	for _, id := range ids {
		if _, err := r.db.ExecContext(ctx, `UPDATE requests SET status = ?, error = ?, finished = ? WHERE id = ?`,
			api.RequestFailed, string(b), time.Now().UnixNano(), id); err != nil {
			return 0, err
		}
	}
	return len(ids), rows.Err()
}

// operation is a started call: its events, then its outcome.
type operation struct {
	events <-chan api.Event
	wait   func() (any, error)
}

// op adapts an api.Operation of any result type.
func op[T any](o *api.Operation[T], err error) (operation, error) {
	if err != nil {
		return operation{}, err
	}
	return operation{events: o.Events(), wait: func() (any, error) { return o.Wait() }}, nil
}

// submit records a PENDING request and runs start in the background under base (not the HTTP request's
// context: requests outlive their client). It returns the request's ID.
func (r *requests) submit(base context.Context, log *slog.Logger, user, name, cluster string, body any,
	start func(ctx context.Context) (operation, error)) (string, error) {
	id := api.NewRequestID()
	b, err := json.Marshal(body)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithCancel(base)
	lr := &liveRequest{cancel: cancel, changed: make(chan struct{})}
	r.mu.Lock()
	r.live[id] = lr
	r.wg.Add(1)
	r.mu.Unlock()
	created := time.Now()
	_, err = r.db.ExecContext(base, `INSERT INTO requests (id, name, user, cluster, created, status, body) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		id, name, user, cluster, created.UnixNano(), api.RequestPending, string(b))
	if err != nil {
		r.forget(id)
		cancel()
		return "", err
	}
	r.metrics.requestMoved(name, "", api.RequestPending, created)
	go r.run(ctx, log.With("request_id", id, "name", name, "user", user), id, name, created, start)
	return id, nil
}

func (r *requests) forget(id string) {
	r.mu.Lock()
	delete(r.live, id)
	r.mu.Unlock()
	r.wg.Done()
}

// run runs one request to its end and records everything it reports. The records use a context that is not
// cancelled with the request, so that a cancelled request still records that it was.
func (r *requests) run(ctx context.Context, log *slog.Logger, id, name string, created time.Time, start func(ctx context.Context) (operation, error)) {
	defer r.forget(id)
	state := api.RequestPending
	rec := context.WithoutCancel(ctx)
	log.Info("request started")
	var (
		result any
		err    error
	)
	if err = r.setStatus(rec, id, api.RequestRunning); err == nil {
		r.metrics.requestMoved(name, state, api.RequestRunning, created)
		state = api.RequestRunning
		var o operation
		if o, err = start(ctx); err == nil {
			seq := 0
			for e := range o.events {
				if err := r.addEvent(rec, id, seq, e); err != nil {
					log.Error("record event", "err", err)
				}
				seq++
			}
			result, err = o.wait()
		}
	}
	status := api.RequestSucceeded
	var werr *api.Error
	switch {
	case err == nil:
	case ctx.Err() != nil && errors.Is(err, context.Canceled) && errors.Is(context.Cause(ctx), errServerStopped):
		status, werr = api.RequestCancelled, &api.Error{Code: api.CodeCancelled,
			Message: "the request was cancelled: the API server stopped while it ran",
			Hint:    "check the cluster with `stix status -r` and submit the request again if needed"}
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		status, werr = api.RequestCancelled, &api.Error{Code: api.CodeCancelled, Message: "the request was cancelled"}
	default:
		status, werr = api.RequestFailed, api.WireError(err)
	}
	// Counted before it is recorded: whoever sees the end recorded then finds it in the metrics too.
	r.metrics.requestMoved(name, state, status, created)
	if ferr := r.finish(rec, id, status, result, werr); ferr != nil {
		log.Error("record outcome", "err", ferr)
	}
	if werr != nil {
		log.Info("request ended", "status", status, "err", werr.Message)
	} else {
		log.Info("request ended", "status", status)
	}
}

func (r *requests) setStatus(ctx context.Context, id string, s api.RequestStatus) error {
	_, err := r.db.ExecContext(ctx, `UPDATE requests SET status = ? WHERE id = ?`, s, id)
	r.notify(id)
	return err
}

func (r *requests) addEvent(ctx context.Context, id string, seq int, e api.Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = r.db.ExecContext(ctx, `INSERT INTO request_events (request_id, seq, event) VALUES (?, ?, ?)`, id, seq, string(b))
	r.notify(id)
	return err
}

func (r *requests) finish(ctx context.Context, id string, s api.RequestStatus, result any, e *api.Error) error {
	var res, errText sql.NullString
	if e != nil {
		b, _ := json.Marshal(e)
		errText = sql.NullString{String: string(b), Valid: true}
	} else if result != nil {
		b, err := json.Marshal(result)
		if err != nil {
			return err
		}
		res = sql.NullString{String: string(b), Valid: true}
	}
	_, err := r.db.ExecContext(ctx, `UPDATE requests SET status = ?, result = ?, error = ?, finished = ? WHERE id = ?`,
		s, res, errText, time.Now().UnixNano(), id)
	r.notify(id)
	return err
}

// notify wakes the followers of a live request.
func (r *requests) notify(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if lr := r.live[id]; lr != nil {
		close(lr.changed)
		lr.changed = make(chan struct{})
	}
}

// changed returns the channel closed at the request's next change, or nil when it does not run here.
func (r *requests) changed(id string) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if lr := r.live[id]; lr != nil {
		return lr.changed
	}
	return nil
}

// cancel cancels a request: a live one through its context (it ends CANCELLED when its operation returns);
// one in flight that no process runs is marked CANCELLED at once. It reports whether the request was in flight.
func (r *requests) cancel(ctx context.Context, id string) (bool, error) {
	r.mu.Lock()
	lr := r.live[id]
	r.mu.Unlock()
	if lr != nil {
		lr.cancel()
		return true, nil
	}
	b, _ := json.Marshal(&api.Error{Code: api.CodeCancelled, Message: "the request was cancelled"})
	res, err := r.db.ExecContext(ctx, `UPDATE requests SET status = ?, error = ?, finished = ? WHERE id = ? AND status IN ('PENDING','RUNNING')`,
		api.RequestCancelled, string(b), time.Now().UnixNano(), id)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// shutdown cancels every live request and waits for them to record their end, at most until ctx is done;
// those still running then are marked FAILED.
func (r *requests) shutdown(ctx context.Context) error {
	r.mu.Lock()
	for _, lr := range r.live {
		lr.cancel()
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	r.mu.Lock()
	r.live = map[string]*liveRequest{} // whatever still runs records nothing more that anyone waits for
	r.mu.Unlock()
	_, err := r.endInFlight(context.Background(), restartedError)
	return errors.Join(err, r.db.Close())
}

const requestColumns = `id, name, user, cluster, created, finished, status, result, error`

func scanRequest(sc interface{ Scan(...any) error }) (api.Request, error) {
	var (
		q              api.Request
		created        int64
		finished       sql.NullInt64
		result, errTxt sql.NullString
	)
	if err := sc.Scan(&q.ID, &q.Name, &q.User, &q.Cluster, &created, &finished, &q.Status, &result, &errTxt); err != nil {
		return q, err
	}
	q.Created = time.Unix(0, created).UTC()
	if finished.Valid {
		t := time.Unix(0, finished.Int64).UTC()
		q.Finished = &t
	}
	if result.Valid {
		q.Result = json.RawMessage(result.String)
	}
	if errTxt.Valid {
		q.Error = &api.Error{}
		if err := json.Unmarshal([]byte(errTxt.String), q.Error); err != nil {
			q.Error = &api.Error{Code: api.CodeFailed, Message: errTxt.String}
		}
	}
	return q, nil
}

// get returns the request whose ID is id or, failing that, the one request whose ID starts with id.
func (r *requests) get(ctx context.Context, id string) (api.Request, error) {
	q, err := scanRequest(r.db.QueryRowContext(ctx, `SELECT `+requestColumns+` FROM requests WHERE id = ?`, id))
	if !errors.Is(err, sql.ErrNoRows) {
		return q, err
	}
	l, err := r.list(ctx, api.RequestFilter{IDPrefixes: []string{id}, All: true, AllUsers: true, Limit: 2}, "")
	switch {
	case err != nil:
		return q, err
	case len(l) == 1:
		return l[0], nil
	case len(l) > 1:
		return q, &api.Error{Code: api.CodeBadRequest, Status: 400, Message: fmt.Sprintf("request ID prefix %q matches several requests", id),
			Hint: "give more of the ID; `stix api status -a` lists them"}
	}
	return q, &api.Error{Code: api.CodeRequestNotFound, Status: 404, Message: fmt.Sprintf("no request %q on this API server", id),
		Hint: "`stix api status -a` lists the requests there are"}
}

// list returns requests, newest first. user, when not empty and f.AllUsers is unset, keeps that user's.
func (r *requests) list(ctx context.Context, f api.RequestFilter, user string) ([]api.Request, error) {
	var (
		where []string
		args  []any
	)
	if !f.All {
		where = append(where, `status IN ('PENDING','RUNNING')`)
	}
	if !f.AllUsers && user != "" {
		where, args = append(where, `user = ?`), append(args, user)
	}
	if len(f.IDPrefixes) > 0 {
		var or []string
		for _, p := range f.IDPrefixes {
			or, args = append(or, `substr(id, 1, ?) = ?`), append(args, len(p), p)
		}
		where = append(where, "("+strings.Join(or, " OR ")+")")
	}
	q := `SELECT ` + requestColumns + ` FROM requests`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY created DESC, id`
	if f.Limit > 0 {
		q, args = q+` LIMIT ?`, append(args, f.Limit)
	}
	rows, err := r.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []api.Request{}
	for rows.Next() {
		q, err := scanRequest(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, rows.Err()
}

// events returns the request's events from seq on.
func (r *requests) events(ctx context.Context, id string, from int) ([]api.StreamLine, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT seq, event FROM request_events WHERE request_id = ? AND seq >= ? ORDER BY seq`, id, from)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []api.StreamLine
	for rows.Next() {
		var (
			l    api.StreamLine
			text string
		)
		if err := rows.Scan(&l.Seq, &text); err != nil {
			return nil, err
		}
		l.Event = &api.Event{}
		if err := json.Unmarshal([]byte(text), l.Event); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}
