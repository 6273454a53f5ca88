package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/dashboard"
	"github.com/stix-run/stix/internal/store"
)

// requests records requests in the state database (the tables requests and request_events of internal/store,
// SQLite or PostgreSQL) and runs them. A request runs in the process that accepted it, which holds the lease
// "request/"+id while it runs (leases.go): another server process sharing the database ends it only once
// that lease has lapsed.
type requests struct {
	st store.Store
	db *sql.DB
	q  func(string) string
	// holder names this process in the leases it takes: holderPrefix (host and server directory), then the pid
	// and a random part. Only one server at a time runs over a directory (the pid file), so a lease whose
	// holder has this prefix belongs to a dead predecessor.
	holder, holderPrefix string
	ttl                  time.Duration

	mu   sync.Mutex
	live map[string]*liveRequest // requests running in this process
	wg   sync.WaitGroup

	// metrics hear each state a request run here enters (metrics.go); nil counts nothing.
	metrics *serverMetrics
}

// liveRequest is a request running in this process: how to cancel it, and a channel closed (and replaced) each
// time it records something, which followers wait on.
type liveRequest struct {
	cancel  context.CancelCauseFunc
	changed chan struct{}
}

// errServerStopped is the cause of the cancellation of the requests in flight when the server stops.
var errServerStopped = errors.New("the API server stopped")

// restartedError is the outcome of a request that was in flight when the server died.
var restartedError = &api.Error{Code: api.CodeServerRestarted,
	Message: "the API server stopped while the request was in flight; its outcome is not known",
	Hint:    "check the cluster with `stix status -r` and submit the request again if needed"}

// openRequests uses the state database st and ends every request a dead server process left in flight
// (endInFlight): they FAIL with restartedError rather than stay RUNNING forever.
func openRequests(ctx context.Context, st store.Store, dir string, ttl time.Duration) (*requests, int, error) {
	sq, ok := store.SQLOf(st)
	if !ok {
		return nil, 0, errors.New("the state store is not a SQL database")
	}
	host, _ := os.Hostname()
	prefix := host + "|" + dir + "|"
	r := &requests{st: st, db: sq.DB, q: sq.Q, holderPrefix: prefix,
		holder: fmt.Sprintf("%s%d|%s", prefix, os.Getpid(), api.NewRequestID()), ttl: ttl,
		live: map[string]*liveRequest{}}
	n, err := r.endInFlight(ctx, restartedError)
	if err != nil {
		return nil, 0, err
	}
	return r, n, nil
}

// endInFlight fails with e every PENDING or RUNNING request not running in this process whose server is
// dead: its lease has lapsed, or it was held by a predecessor over this directory. A request another live
// server runs is left alone.
func (r *requests) endInFlight(ctx context.Context, e *api.Error) (int, error) {
	b, _ := json.Marshal(e)
	rows, err := r.db.QueryContext(ctx, r.q(`SELECT id, holder FROM requests WHERE status IN ('PENDING','RUNNING')`))
	if err != nil {
		return 0, err
	}
	type inFlight struct{ id, holder string }
	var all []inFlight
	for rows.Next() {
		var f inFlight
		if err := rows.Scan(&f.id, &f.holder); err != nil {
			rows.Close()
			return 0, err
		}
		all = append(all, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, f := range all {
		if r.isLive(f.id) {
			continue
		}
		ok, err := r.takeOver(ctx, f.id, f.holder)
		if err != nil {
			return n, err
		}
		if !ok {
			continue
		}
		res, err := r.db.ExecContext(ctx, r.q(`UPDATE requests SET status = ?, error = ?, finished = ? WHERE id = ? AND status IN ('PENDING','RUNNING')`),
			api.RequestFailed, string(b), time.Now().UnixNano(), f.id)
		if err != nil {
			return n, err
		}
		if k, _ := res.RowsAffected(); k > 0 {
			n++
		}
		if err := r.st.ReleaseLease(ctx, leaseName(f.id), r.holder); err != nil {
			return n, err
		}
	}
	return n, nil
}

func (r *requests) isLive(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.live[id] != nil
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
	ctx, cancel := context.WithCancelCause(base)
	lr := &liveRequest{cancel: cancel, changed: make(chan struct{})}
	r.mu.Lock()
	r.live[id] = lr
	r.wg.Add(1)
	r.mu.Unlock()
	created := time.Now()
	// The lease first: no other server may end the request between its insertion and its start.
	if _, err = r.st.AcquireLease(base, leaseName(id), r.holder, r.ttl); err == nil {
		_, err = r.db.ExecContext(base, r.q(`INSERT INTO requests (id, name, user_name, cluster, created, status, body, holder) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			id, name, user, cluster, created.UnixNano(), api.RequestPending, string(b), r.holder)
	}
	if err != nil {
		r.forget(id)
		cancel(nil)
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
	defer r.holdLease(ctx, log, id)()
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
	_, err := r.db.ExecContext(ctx, r.q(`UPDATE requests SET status = ? WHERE id = ? AND status IN ('PENDING','RUNNING')`), s, id)
	r.notify(id)
	return err
}

func (r *requests) addEvent(ctx context.Context, id string, seq int, e api.Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = r.db.ExecContext(ctx, r.q(`INSERT INTO request_events (request_id, seq, event) VALUES (?, ?, ?)`), id, seq, string(b))
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
	// Only a request still in flight: one that another server ended (its lease lapsed) keeps that end.
	_, err := r.db.ExecContext(ctx, r.q(`UPDATE requests SET status = ?, result = ?, error = ?, finished = ? WHERE id = ? AND status IN ('PENDING','RUNNING')`),
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
		lr.cancel(nil)
		return true, nil
	}
	b, _ := json.Marshal(&api.Error{Code: api.CodeCancelled, Message: "the request was cancelled"})
	res, err := r.db.ExecContext(ctx, r.q(`UPDATE requests SET status = ?, error = ?, finished = ? WHERE id = ? AND status IN ('PENDING','RUNNING')`),
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
		lr.cancel(nil)
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
	return err
}

const requestColumns = `id, name, user_name, cluster, created, finished, status, result, error`

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
	q, err := scanRequest(r.db.QueryRowContext(ctx, r.q(`SELECT `+requestColumns+` FROM requests WHERE id = ?`), id))
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

// list returns the requests f keeps, in its order (newest first by default): one page with f.Offset and
// f.Limit. user, when not empty and f.AllUsers is unset, keeps that user's.
func (r *requests) list(ctx context.Context, f api.RequestFilter, user string) ([]api.Request, error) {
	where, args, err := requestWhere(f, user)
	if err != nil {
		return nil, err
	}
	order, err := requestOrder(f)
	if err != nil {
		return nil, err
	}
	q := `SELECT ` + requestColumns + ` FROM requests` + where + order
	switch {
	case f.Limit > 0:
		q, args = q+` LIMIT ?`, append(args, f.Limit)
	case f.Offset > 0:
		q, args = q+` LIMIT ?`, append(args, math.MaxInt32) // SQLite takes OFFSET only after a LIMIT
	}
	if f.Offset > 0 {
		q, args = q+` OFFSET ?`, append(args, f.Offset)
	}
	rows, err := r.db.QueryContext(ctx, r.q(q), args...)
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

// count is how many requests f keeps, whatever its Offset and Limit: the length of the list a page is of.
func (r *requests) count(ctx context.Context, f api.RequestFilter, user string) (int, error) {
	where, args, err := requestWhere(f, user)
	if err != nil {
		return 0, err
	}
	var n int
	err = r.db.QueryRowContext(ctx, r.q(`SELECT COUNT(*) FROM requests`+where), args...).Scan(&n)
	return n, err
}

// requestWhere is the WHERE clause (with its leading space, or "") and arguments of f for user.
func requestWhere(f api.RequestFilter, user string) (string, []any, error) {
	var (
		where []string
		args  []any
	)
	switch {
	case f.Status != "":
		if !slices.Contains(requestStates(), f.Status) {
			return "", nil, badRequest("request status %q is not one of %s", f.Status, requestStatesText())
		}
		where, args = append(where, `status = ?`), append(args, string(f.Status))
	case !f.All:
		where = append(where, `status IN ('PENDING','RUNNING')`)
	}
	if !f.AllUsers && user != "" {
		where, args = append(where, `user_name = ?`), append(args, user)
	}
	if len(f.IDPrefixes) > 0 {
		var or []string
		for _, p := range f.IDPrefixes {
			or, args = append(or, `substr(id, 1, ?) = ?`), append(args, len(p), p)
		}
		where = append(where, "("+strings.Join(or, " OR ")+")")
	}
	if f.Search != "" {
		// LIKE with its wildcards escaped: the text is matched as it is. LOWER on both sides: PostgreSQL's LIKE
		// minds case, SQLite's does not (for ASCII, as LOWER there).
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(f.Search))
		where = append(where, `LOWER(id || ' ' || name || ' ' || user_name || ' ' || cluster) LIKE ? ESCAPE '\'`)
		args = append(args, "%"+esc+"%")
	}
	if len(where) == 0 {
		return "", args, nil
	}
	return ` WHERE ` + strings.Join(where, " AND "), args, nil
}

// requestOrder is the ORDER BY clause of f's Sort: ties by ID, in the same direction.
func requestOrder(f api.RequestFilter) (string, error) {
	col := ""
	switch f.Sort {
	case "":
		return ` ORDER BY created DESC, id`, nil
	case "created":
		col = "created"
	case "name":
		col = "name"
	case "user":
		col = "user_name"
	case "status":
		col = "status"
	default:
		return "", badRequest("requests sort by one of %s; got %q", strings.Join(api.RequestSortKeys(), ", "), f.Sort)
	}
	dir := " ASC"
	if f.Desc {
		dir = " DESC"
	}
	return ` ORDER BY ` + col + dir + `, id` + dir, nil
}

func requestStates() []api.RequestStatus {
	return []api.RequestStatus{api.RequestPending, api.RequestRunning, api.RequestSucceeded, api.RequestFailed, api.RequestCancelled}
}

func requestStatesText() string {
	var s []string
	for _, x := range requestStates() {
		s = append(s, string(x))
	}
	return strings.Join(s, ", ")
}

// users counts each user's requests and finds their latest; user, when not empty, keeps that user's.
func (r *requests) users(ctx context.Context, user string) ([]dashboard.UserRequests, error) {
	q, args := `SELECT user_name, COUNT(*), MAX(created) FROM requests`, []any{}
	if user != "" {
		q, args = q+` WHERE user_name = ?`, append(args, user)
	}
	rows, err := r.db.QueryContext(ctx, r.q(q+` GROUP BY user_name ORDER BY user_name`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []dashboard.UserRequests
	for rows.Next() {
		var (
			u      dashboard.UserRequests
			latest int64
		)
		if err := rows.Scan(&u.User, &u.Count, &latest); err != nil {
			return nil, err
		}
		u.Latest = time.Unix(0, latest).UTC()
		out = append(out, u)
	}
	return out, rows.Err()
}

// events returns the request's events from seq on.
func (r *requests) events(ctx context.Context, id string, from int) ([]api.StreamLine, error) {
	rows, err := r.db.QueryContext(ctx, r.q(`SELECT seq, event FROM request_events WHERE request_id = ? AND seq >= ? ORDER BY seq`), id, from)
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
