package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/stix-run/stix/internal/sqlitedb"
)

// sqliteStore is the Store on a local SQLite database, with cluster locks as files beside it.
type sqliteStore struct {
	db   *sql.DB
	home string
}

var _ Store = (*sqliteStore)(nil)

func openSQLite(ctx context.Context, home string) (*sqliteStore, error) {
	if home == "" {
		return nil, errors.New("open stix state: empty home directory; set STIX_HOME")
	}
	db, err := sqlitedb.OpenContext(ctx, filepath.Join(home, StateFile), sqliteMigrations)
	if err != nil {
		return nil, fmt.Errorf("open stix state: %w", err)
	}
	return &sqliteStore{db: db, home: home}, nil
}

// Close closes the database.
func (s *sqliteStore) Close() error { return s.db.Close() }

// GetValue returns the value stored under key and whether there is one.
func (s *sqliteStore) GetValue(ctx context.Context, key string) (string, bool, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM kv WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read state value %q: %w", key, err)
	}
	return v, true, nil
}

// SetValue stores value under key, replacing any previous value.
func (s *sqliteStore) SetValue(ctx context.Context, key, value string) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
		key, value)
	if err != nil {
		return fmt.Errorf("write state value %q: %w", key, err)
	}
	return nil
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE, see sqlitedb) and commits if fn succeeds.
func (s *sqliteStore) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
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
