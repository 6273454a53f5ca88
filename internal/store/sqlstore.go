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

// sqlStore is the Store on a SQL database: SQLite (the default, with cluster locks as files beside it) or
// PostgreSQL (with cluster locks as advisory locks). The SQL is written once, with ? placeholders, and
// rewritten for PostgreSQL by q.
type sqlStore struct {
	db       *sql.DB
	postgres bool
	locks    clusterLocks
	where    string // the database, for messages (PostgreSQL only)
}

var _ Store = (*sqlStore)(nil)

// Close closes the database.
func (s *sqlStore) Close() error {
	return s.db.Close()
}

// q returns query in the store's dialect: PostgreSQL numbers its placeholders ($1, $2, ...). The queries of
// this package have no '?' other than placeholders.
func (s *sqlStore) q(query string) string {
	if !s.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// GetValue returns the value stored under key and whether there is one.
func (s *sqlStore) GetValue(ctx context.Context, key string) (string, bool, error) {
	var v string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT value FROM kv WHERE key = ?`), key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read state value %q: %w", key, err)
	}
	return v, true, nil
}

// SetValue stores value under key, replacing any previous value.
func (s *sqlStore) SetValue(ctx context.Context, key, value string) error {
	_, err := s.db.ExecContext(ctx,
		s.q(`INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`),
		key, value)
	if err != nil {
		return fmt.Errorf("write state value %q: %w", key, err)
	}
	return nil
}

// inTx runs fn in a write transaction on the named cluster and commits if fn succeeds. Writers of one cluster
// are serialised: on SQLite every write transaction holds the database's write lock (BEGIN IMMEDIATE, see
// sqlitedb); on PostgreSQL (READ COMMITTED) the transaction first takes a transaction-level advisory lock on the
// cluster's name, so that the read-then-write steps (is there a row? is a usage span open?) see no concurrent
// change. If the connection to the database is lost part way, the database rolls the transaction back: nothing
// of it is written, and the error says so.
func (s *sqlStore) inTx(ctx context.Context, cluster string, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.connLost(err, "nothing was written")
	}
	if s.postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, advisoryKey("row/"+cluster)); err != nil {
			tx.Rollback()
			return s.connLost(err, "nothing was written")
		}
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return s.connLost(err, "the change was rolled back; nothing of it was written")
	}
	return s.connLost(tx.Commit(), "whether the change was committed is unknown; read the state again")
}

// dbTime is a time as stored: Unix nanoseconds, NULL for the zero time.
func dbTime(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

// goTime is the inverse of dbTime.
func goTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64)
}
