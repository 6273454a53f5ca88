package services

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/store"
)

// Store keeps services in the server's state database (tables of store migrations 7 and 8), SQLite or
// PostgreSQL. A service's rows are written only by the controller that holds its lease, except down_requested
// and a replica's terminate_requested, which any server sets.
type Store struct {
	db *sql.DB
	q  func(string) string
}

// OpenStore uses the service tables of st.
func OpenStore(st store.Store) (*Store, error) {
	sq, ok := store.SQLOf(st)
	if !ok {
		return nil, errors.New("services: the state store is not a SQL database")
	}
	return &Store{db: sq.DB, q: sq.Q}, nil
}

// Row is a service's row.
type Row struct {
	Name       string
	User       string
	CreatedAt  time.Time
	Status     api.ServiceStatus
	Version    int
	LBPort     int
	Spec       Spec
	Autoscaler string // the autoscaler's saved state, JSON
	Down       bool
	ReadySince time.Time
	Message    string
}

// Spec is what the controller needs to run a service, again after a restart: each version's task as the core
// reads it (secrets included), and how the latest replaced the others.
type Spec struct {
	Versions map[int]api.TaskSpec `json:"versions"`
	Mode     string               `json:"mode,omitempty"`
}

// ReplicaRow is a replica's row.
type ReplicaRow struct {
	Service    string
	ID         int
	Version    int
	Status     api.ReplicaStatus
	Cluster    string
	Endpoint   string
	LaunchedAt time.Time
	Infra      string
	Resources  string
	Spot       bool
	// Terminate is a `serve down --replica-id` asked through another server, not acted on yet: "", "terminate"
	// or "purge". PutReplica leaves it as it is.
	Terminate string
}

// ErrExists is matched by Insert's error for a name already taken.
var ErrExists = errors.New("service exists")

// Insert records a new service.
func (s *Store) Insert(ctx context.Context, r *Row) error {
	spec, err := json.Marshal(r.Spec)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO services (name, user_name, created_at, status, version, lb_port, spec)
		VALUES (?, ?, ?, ?, ?, ?, ?)`), r.Name, r.User, r.CreatedAt.UnixNano(), string(r.Status), r.Version, r.LBPort, string(spec))
	if err != nil && isUnique(err) {
		return fmt.Errorf("%w: %s", ErrExists, r.Name)
	}
	return err
}

// isUnique reports a primary-key violation, in either dialect's words.
func isUnique(err error) bool {
	m := strings.ToLower(err.Error())
	return strings.Contains(m, "unique") || strings.Contains(m, "duplicate key")
}

const serviceCols = `name, user_name, created_at, status, version, lb_port, spec, autoscaler, down_requested, ready_since, message`

func scanRow(sc interface{ Scan(...any) error }) (*Row, error) {
	var (
		r                   Row
		created, readySince int64
		status, spec        string
	)
	if err := sc.Scan(&r.Name, &r.User, &created, &status, &r.Version, &r.LBPort, &spec, &r.Autoscaler, &r.Down, &readySince, &r.Message); err != nil {
		return nil, err
	}
	r.CreatedAt, r.Status = time.Unix(0, created), api.ServiceStatus(status)
	if readySince != 0 {
		r.ReadySince = time.Unix(0, readySince)
	}
	if err := json.Unmarshal([]byte(spec), &r.Spec); err != nil {
		return nil, fmt.Errorf("service %s: spec: %w", r.Name, err)
	}
	return &r, nil
}

// Get returns a service's row; a *api.ServiceNotFoundError when there is none.
func (s *Store) Get(ctx context.Context, name string) (*Row, error) {
	r, err := scanRow(s.db.QueryRowContext(ctx, s.q(`SELECT `+serviceCols+` FROM services WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &api.ServiceNotFoundError{Name: name}
	}
	return r, err
}

// List returns every service, oldest first.
func (s *Store) List(ctx context.Context) ([]*Row, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+serviceCols+` FROM services ORDER BY created_at, name`))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Row
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SetStatus records a service's state, its message, and since when it is READY (zero: not).
func (s *Store) SetStatus(ctx context.Context, name string, st api.ServiceStatus, readySince time.Time, msg string) error {
	var rs int64
	if !readySince.IsZero() {
		rs = readySince.UnixNano()
	}
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE services SET status = ?, ready_since = ?, message = ? WHERE name = ?`), string(st), rs, msg, name)
	return err
}

// SetAutoscaler saves the autoscaler's state.
func (s *Store) SetAutoscaler(ctx context.Context, name, state string) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE services SET autoscaler = ? WHERE name = ?`), state, name)
	return err
}

// RequestDown marks a service to be torn down by whichever controller runs it.
func (s *Store) RequestDown(ctx context.Context, name string) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE services SET down_requested = TRUE WHERE name = ?`), name)
	return err
}

// NextReplicaID takes the next replica ID of a service (from 1, never reused).
func (s *Store) NextReplicaID(ctx context.Context, name string) (int, error) {
	var id int
	err := s.db.QueryRowContext(ctx, s.q(`UPDATE services SET next_replica_id = next_replica_id + 1 WHERE name = ? RETURNING next_replica_id - 1`), name).Scan(&id)
	return id, err
}

// PutReplica records a replica (inserted or replaced).
func (s *Store) PutReplica(ctx context.Context, r ReplicaRow) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO service_replicas (service, replica_id, version, status, cluster, endpoint, launched_at, infra, resources, spot)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (service, replica_id) DO UPDATE SET version = excluded.version, status = excluded.status, cluster = excluded.cluster,
		endpoint = excluded.endpoint, launched_at = excluded.launched_at, infra = excluded.infra, resources = excluded.resources, spot = excluded.spot`),
		r.Service, r.ID, r.Version, string(r.Status), r.Cluster, r.Endpoint, r.LaunchedAt.UnixNano(), r.Infra, r.Resources, r.Spot)
	return err
}

// RequestTerminate records `serve down --replica-id` for the controller that runs the service (purge: with
// --purge); false when the service has no such replica.
func (s *Store) RequestTerminate(ctx context.Context, service string, id int, purge bool) (bool, error) {
	ask := "terminate"
	if purge {
		ask = "purge"
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE service_replicas SET terminate_requested = ? WHERE service = ? AND replica_id = ?`), ask, service, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// ClearTerminate records that the controller acted on a replica's terminate request.
func (s *Store) ClearTerminate(ctx context.Context, service string, id int) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE service_replicas SET terminate_requested = '' WHERE service = ? AND replica_id = ?`), service, id)
	return err
}

// DeleteReplica forgets a replica.
func (s *Store) DeleteReplica(ctx context.Context, service string, id int) error {
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM service_replicas WHERE service = ? AND replica_id = ?`), service, id)
	return err
}

// Replicas returns a service's replicas by ID.
func (s *Store) Replicas(ctx context.Context, service string) ([]ReplicaRow, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT replica_id, version, status, cluster, endpoint, launched_at, infra, resources, spot, terminate_requested
		FROM service_replicas WHERE service = ? ORDER BY replica_id`), service)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ReplicaRow
	for rows.Next() {
		r := ReplicaRow{Service: service}
		var (
			status   string
			launched int64
		)
		if err := rows.Scan(&r.ID, &r.Version, &status, &r.Cluster, &r.Endpoint, &launched, &r.Infra, &r.Resources, &r.Spot, &r.Terminate); err != nil {
			return nil, err
		}
		r.Status, r.LaunchedAt = api.ReplicaStatus(status), time.Unix(0, launched)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Delete forgets a service and its replicas.
func (s *Store) Delete(ctx context.Context, name string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM service_replicas WHERE service = ?`), name); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM services WHERE name = ?`), name); err != nil {
		return err
	}
	return tx.Commit()
}

// AddVersion records a new version of a service's task as its latest, if version is the next one (a concurrent
// update loses with ErrConflict).
func (s *Store) AddVersion(ctx context.Context, name string, version int, sp Spec) error {
	b, err := json.Marshal(sp)
	if err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE services SET version = ?, spec = ? WHERE name = ? AND version = ?`), version, string(b), name, version-1)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrConflict
	}
	return nil
}

// ErrConflict is AddVersion's error when another update got there first.
var ErrConflict = errors.New("the service was updated meanwhile: try again")
