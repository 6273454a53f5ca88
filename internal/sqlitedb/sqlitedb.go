// Package sqlitedb opens the SQLite databases stix keeps on disk (the CLI's state, the node agent's job table) with
// the settings that make them safe to share between processes, and applies versioned schema migrations.
package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/stix-run/stix/internal/sqlitedb/filelock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// BusyTimeoutMillis is how long a connection waits for another process's write lock before giving up with
// SQLITE_BUSY. Writers hold the lock for milliseconds, so reaching it means something is wedged.
const BusyTimeoutMillis = 10000

// ErrTooNew is returned (wrapped) by Open when the database was written by a newer binary with more migrations.
var ErrTooNew = errors.New("database schema is newer than this binary")

// ErrCorrupt is returned (wrapped) by Open when the file is not a SQLite database or is damaged.
var ErrCorrupt = errors.New("not a SQLite database or corrupt")

// The DSN settings, applied by the driver to every pooled connection. _txlock=immediate makes BEGIN take the
// write lock up front: a deferred transaction that reads and then writes cannot wait for the lock in WAL mode
// (it fails at once with SQLITE_BUSY), an immediate one waits up to the busy timeout. journal_mode is not here:
// it is persistent in the file and set once, under the init lock (see initialize).
var dsnParams = strings.Join([]string{
	fmt.Sprintf("_pragma=busy_timeout(%d)", BusyTimeoutMillis),
	"_pragma=synchronous(NORMAL)",
	"_pragma=foreign_keys(1)",
	"_txlock=immediate",
}, "&")

// Open opens (creating it, its directories 0700 and the file 0600) the SQLite database at path with WAL,
// synchronous=NORMAL, a busy timeout, foreign keys and immediate write transactions, then applies
// migrations[v:] where v is the database's PRAGMA user_version, each in its own transaction.
func Open(path string, migrations []string) (*sql.DB, error) {
	return OpenContext(context.Background(), path, migrations)
}

// OpenContext is Open bounded by ctx (the wait for another process that is creating or migrating the database).
func OpenContext(ctx context.Context, path string, migrations []string) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("open SQLite database: empty path")
	}
	if strings.ContainsRune(path, '?') {
		// The driver splits the DSN at the first '?'; such a path would silently lose its settings.
		return nil, fmt.Errorf("open SQLite database %s: the path must not contain '?'; choose another directory", path)
	}
	if err := ensureFile(path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", path+"?"+dsnParams)
	if err != nil {
		return nil, fmt.Errorf("open SQLite database %s: %w", path, err)
	}
	if err := prepare(ctx, db, path, migrations); err != nil {
		db.Close()
		return nil, describe(path, err)
	}
	return db, nil
}

// prepare makes sure the database is in WAL mode at the latest schema version. The common case, a database
// already prepared, costs two header reads and no lock.
func prepare(ctx context.Context, db *sql.DB, path string, migrations []string) error {
	ready, err := isReady(ctx, db, len(migrations))
	if err != nil || ready {
		return err
	}
	// Switching to WAL needs an exclusive lock, and two processes that both hold a shared lock and both want it
	// deadlock; SQLite then fails one at once with SQLITE_BUSY instead of waiting. A file lock beside the
	// database serialises the processes that find work to do, so they wait instead.
	unlock, err := filelock.Lock(ctx, path+".init-lock")
	if err != nil {
		return err
	}
	defer unlock()
	return initialize(ctx, db, migrations)
}

// isReady reports whether the database is in WAL mode with every migration applied; it fails with ErrTooNew
// when the database has more migrations than this binary knows.
func isReady(ctx context.Context, db *sql.DB, want int) (bool, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return false, fmt.Errorf("read journal mode: %w", err)
	}
	var v int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return false, fmt.Errorf("read schema version: %w", err)
	}
	if v > want {
		return false, tooNew(v, want)
	}
	return strings.EqualFold(mode, "wal") && v == want, nil
}

func tooNew(have, want int) error {
	return fmt.Errorf("%w: schema version %d, this binary knows up to %d", ErrTooNew, have, want)
}

// initialize switches the database to WAL and applies the missing migrations, one transaction each. Each
// transaction re-reads user_version under the write lock, so a migration is never applied twice even by a
// process that does not take the init lock.
func initialize(ctx context.Context, db *sql.DB, migrations []string) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return fmt.Errorf("switch to WAL: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("switch to WAL: journal mode is still %q (a filesystem without shared memory?)", mode)
	}
	for {
		v, err := step(ctx, db, migrations)
		if err != nil {
			return err
		}
		if v > len(migrations) {
			return tooNew(v, len(migrations))
		}
		if v == len(migrations) {
			return nil
		}
	}
}

// ensureFile creates the directories and an empty database file with owner-only permissions; SQLite would
// otherwise create it with the umask's default, and its -wal/-shm files copy the main file's mode.
func ensureFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("open SQLite database %s: create directory: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open SQLite database %s: create file: %w", path, err)
	}
	return f.Close()
}

// step applies the next missing migration, if any is still missing once the write lock is held, and returns
// the version the database is at afterwards.
func step(ctx context.Context, db *sql.DB, migrations []string) (int, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if v < 0 {
		return 0, fmt.Errorf("schema version %d is negative: the file was not written by this program", v)
	}
	if v >= len(migrations) {
		return v, nil // another process got there first, or the database is too new: the caller decides
	}
	if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
		return 0, fmt.Errorf("apply migration %d: %w", v+1, err)
	}
	// PRAGMA takes no bind parameters; v+1 is an int we computed.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
		return 0, fmt.Errorf("record schema version %d: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit migration %d: %w", v+1, err)
	}
	return v + 1, nil
}

// describe turns an error from opening or migrating into one that names the file and says what to do.
func describe(path string, err error) error {
	switch {
	case errors.Is(err, ErrTooNew):
		return fmt.Errorf("open %s: %w; upgrade this binary, or move the file aside to start afresh", path, err)
	case isCorrupt(err):
		return fmt.Errorf("open %s: %w (%w); move the file aside to start afresh", path, ErrCorrupt, err)
	default:
		return fmt.Errorf("open SQLite database %s: %w", path, err)
	}
}

// isCorrupt reports whether err is SQLite saying the file is not a database or is damaged.
func isCorrupt(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff { // the primary code; extended codes add bits above
	case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
		return true
	}
	return false
}
