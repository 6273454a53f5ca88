package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Lease is a named claim that one holder has until it expires, unless renewed. The API server takes one per
// request it runs, so that two servers sharing a database never run one request twice, and a request whose
// server died is taken over once the lease expires.
type Lease struct {
	Name   string
	Holder string
	// Token grows by one each time the lease passes to another holder; a holder can fence its writes with it.
	Token int64
	// Expires is when the lease lapses unless renewed, by the database's clock (see docs/state.md).
	Expires time.Time
}

// ErrLeaseHeld is matched (errors.Is) by AcquireLease's error when another holder has the lease.
var ErrLeaseHeld = errors.New("lease held by another holder")

// ErrLeaseLost is matched (errors.Is) by RenewLease's error when the caller no longer holds the lease: it
// expired, or another holder took it.
var ErrLeaseLost = errors.New("lease lost")

// leaseNow is the current time in Unix nanoseconds as SQL. On PostgreSQL it is the database server's clock,
// one clock for every stix process sharing the database whatever their hosts' clocks say; on SQLite (one
// machine) it is this process's clock, written as a literal.
func (s *sqlStore) leaseNow() string {
	if s.postgres {
		return `CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000000 AS BIGINT)`
	}
	return strconv.FormatInt(time.Now().UnixNano(), 10)
}

func checkLease(name, holder string, ttl time.Duration) error {
	switch {
	case name == "":
		return errors.New("lease: empty name")
	case holder == "":
		return fmt.Errorf("lease %q: empty holder", name)
	case ttl <= 0:
		return fmt.Errorf("lease %q: TTL %v is not positive", name, ttl)
	}
	return nil
}

// AcquireLease takes the named lease for holder for ttl, if it is free, expired, or already holder's (then it
// is renewed). It fails at once with ErrLeaseHeld while another holder's lease is live.
func (s *sqlStore) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (*Lease, error) {
	if err := checkLease(name, holder, ttl); err != nil {
		return nil, err
	}
	now := s.leaseNow()
	// One statement: the database decides atomically between a free, an expired and a live lease.
	row := s.db.QueryRowContext(ctx, s.q(`INSERT INTO leases (name, holder, token, acquired_at, expires_at)
		VALUES (?, ?, 1, `+now+`, `+now+` + ?)
		ON CONFLICT (name) DO UPDATE SET
			token = CASE WHEN leases.holder = excluded.holder THEN leases.token ELSE leases.token + 1 END,
			acquired_at = CASE WHEN leases.holder = excluded.holder THEN leases.acquired_at ELSE excluded.acquired_at END,
			holder = excluded.holder,
			expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= excluded.acquired_at
		RETURNING token, expires_at`), name, holder, ttl.Nanoseconds())
	l, err := scanLease(row, name, holder)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, s.heldBy(ctx, name)
	}
	if err != nil {
		return nil, fmt.Errorf("acquire lease %q: %w", name, err)
	}
	return l, nil
}

// heldBy is the error for a lease that another holder has.
func (s *sqlStore) heldBy(ctx context.Context, name string) error {
	var (
		other   string
		expires int64
	)
	err := s.db.QueryRowContext(ctx, s.q(`SELECT holder, expires_at FROM leases WHERE name = ?`), name).Scan(&other, &expires)
	if err != nil {
		return fmt.Errorf("lease %q is held by another holder: %w", name, ErrLeaseHeld)
	}
	return fmt.Errorf("lease %q is held by %q until %s: %w", name, other,
		time.Unix(0, expires).UTC().Format(time.RFC3339Nano), ErrLeaseHeld)
}

// RenewLease extends holder's live lease to ttl from now. It fails with ErrLeaseLost if holder's lease has
// expired or another holder has it: whatever holder was doing under it may now be done by another.
func (s *sqlStore) RenewLease(ctx context.Context, name, holder string, ttl time.Duration) (*Lease, error) {
	if err := checkLease(name, holder, ttl); err != nil {
		return nil, err
	}
	now := s.leaseNow()
	row := s.db.QueryRowContext(ctx, s.q(`UPDATE leases SET expires_at = `+now+` + ?
		WHERE name = ? AND holder = ? AND expires_at > `+now+`
		RETURNING token, expires_at`), ttl.Nanoseconds(), name, holder)
	l, err := scanLease(row, name, holder)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("renew lease %q: %q no longer holds it: %w", name, holder, ErrLeaseLost)
	}
	if err != nil {
		return nil, fmt.Errorf("renew lease %q: %w", name, err)
	}
	return l, nil
}

// ReleaseLease gives up holder's lease so that another holder can take it at once; releasing a lease one does
// not hold does nothing. The row stays (expired), so that the token keeps growing.
func (s *sqlStore) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE leases SET expires_at = 0 WHERE name = ? AND holder = ?`), name, holder)
	if err != nil {
		return fmt.Errorf("release lease %q: %w", name, err)
	}
	return nil
}

func scanLease(row *sql.Row, name, holder string) (*Lease, error) {
	var (
		token   int64
		expires int64
	)
	if err := row.Scan(&token, &expires); err != nil {
		return nil, err
	}
	return &Lease{Name: name, Holder: holder, Token: token, Expires: time.Unix(0, expires)}, nil
}

// RenewLeases extends, in one statement, those of the named leases that holder still holds to ttl from now,
// and returns their names: a controller holding many leases renews them all at once. A name not returned is
// lost to holder (expired, or taken by another).
func RenewLeases(ctx context.Context, st Store, holder string, names []string, ttl time.Duration) ([]string, error) {
	s, ok := st.(*sqlStore)
	if !ok {
		return nil, errors.New("renew leases: the state store is not a SQL database")
	}
	if len(names) == 0 {
		return nil, nil
	}
	if err := checkLease(names[0], holder, ttl); err != nil {
		return nil, err
	}
	now := s.leaseNow()
	args := []any{ttl.Nanoseconds(), holder}
	for _, n := range names {
		args = append(args, n)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`UPDATE leases SET expires_at = `+now+` + ?
		WHERE holder = ? AND expires_at > `+now+` AND name IN (`+placeholders(len(names))+`) RETURNING name`), args...)
	if err != nil {
		return nil, fmt.Errorf("renew %d leases: %w", len(names), err)
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

// LeaseHolder returns who holds the named lease, live or expired; "" when no one does.
func LeaseHolder(ctx context.Context, st Store, name string) (string, error) {
	s, ok := st.(*sqlStore)
	if !ok {
		return "", errors.New("read lease: the state store is not a SQL database")
	}
	var h string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT holder FROM leases WHERE name = ?`), name).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return h, err
}

// LiveLeases returns the holder of every live lease whose name starts with prefix.
func LiveLeases(ctx context.Context, st Store, prefix string) (map[string]string, error) {
	s, ok := st.(*sqlStore)
	if !ok {
		return nil, errors.New("list leases: the state store is not a SQL database")
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT name, holder FROM leases WHERE expires_at > `+s.leaseNow()+` AND substr(name, 1, ?) = ?`),
		len(prefix), prefix)
	if err != nil {
		return nil, fmt.Errorf("list leases: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var n, h string
		if err := rows.Scan(&n, &h); err != nil {
			return nil, err
		}
		out[n] = h
	}
	return out, rows.Err()
}

func placeholders(n int) string {
	if n == 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}
