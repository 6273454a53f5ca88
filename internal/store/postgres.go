package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stix-run/stix/internal/sqlitedb"
)

// The PostgreSQL store goes through database/sql (pgx's stdlib driver) so that it runs the very SQL the SQLite
// store runs (sqlStore); only the cluster locks use pgx's own connections, one per held lock, because a
// session-level advisory lock belongs to the connection that took it.

// maxPostgresConns bounds the store's pool: more concurrent calls queue for a connection instead of exhausting
// the server's max_connections (100 by default), which several stix processes share.
const maxPostgresConns = 16

// isPostgresURI reports whether uri names a PostgreSQL database (postgres:// or postgresql://).
func isPostgresURI(uri string) bool {
	return strings.HasPrefix(uri, "postgres://") || strings.HasPrefix(uri, "postgresql://")
}

// parsePostgresURI checks uri and returns pgx's connection settings. The errors never repeat the URI, which may
// hold a password.
func parsePostgresURI(uri string) (*pgx.ConnConfig, error) {
	if !isPostgresURI(uri) {
		scheme, _, ok := strings.Cut(uri, "://")
		if !ok {
			scheme = "none"
		}
		return nil, fmt.Errorf("unsupported database URI scheme %q: want postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE", scheme)
	}
	u, err := url.Parse(uri)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URI
		}
		return nil, fmt.Errorf("malformed database URI: %v; want postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE", err)
	}
	if u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return nil, errors.New("database URI names no host or no database: want postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
	}
	cfg, err := pgx.ParseConfig(uri)
	if err != nil {
		return nil, fmt.Errorf("malformed database URI: %s", redactParseError(err))
	}
	return cfg, nil
}

// redactParseError drops the URI that pgx's parse errors quote.
func redactParseError(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "postgres"); i >= 0 && strings.Contains(msg[i:], "://") {
		if j := strings.LastIndex(msg, ": "); j > i {
			return msg[j+2:]
		}
	}
	return msg
}

// describePostgres names the database for messages, without the password.
func describePostgres(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("PostgreSQL database %q at %s:%d (user %q)", cfg.Database, cfg.Host, cfg.Port, cfg.User)
}

func openPostgres(ctx context.Context, uri string) (*sqlStore, error) {
	cfg, err := parsePostgresURI(uri)
	if err != nil {
		return nil, err
	}
	where := describePostgres(cfg)
	db := openPostgresDB(cfg)
	if err := migratePostgres(ctx, db, dialectMigrations(true)); err != nil {
		db.Close()
		if errors.Is(err, sqlitedb.ErrTooNew) {
			return nil, fmt.Errorf("open stix state in %s: %w; upgrade this binary", where, err)
		}
		return nil, fmt.Errorf("open stix state in %s: %w", where, err)
	}
	locks := &advisoryLocks{cfg: lockConnConfig(cfg), where: where}
	return &sqlStore{db: db, postgres: true, locks: locks, where: where}, nil
}

// openPostgresDB returns the pool of the store's connections (none is made yet).
func openPostgresDB(cfg *pgx.ConnConfig) *sql.DB {
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(maxPostgresConns)
	db.SetMaxIdleConns(maxPostgresConns)
	return db
}

// schemaVersionTable records the PostgreSQL schema version (SQLite keeps it in PRAGMA user_version).
const schemaVersionTable = "stix_schema_version"

// migratePostgres applies the missing migrations in one transaction that holds a transaction-level advisory
// lock, so that two processes starting at once apply each migration once: the second waits for the first and
// then finds nothing to do. A database with more migrations than this binary knows is refused (ErrTooNew).
func migratePostgres(ctx context.Context, db *sql.DB, migs []string) error {
	// The common open, a database already at this version, is one read and takes no lock. Any error (no table
	// yet) leaves the answer to the locked path, which reports real errors.
	var current int
	if err := db.QueryRowContext(ctx, `SELECT version FROM `+schemaVersionTable).Scan(&current); err == nil {
		if current > len(migs) {
			return fmt.Errorf("%w: schema version %d, this binary knows up to %d", sqlitedb.ErrTooNew, current, len(migs))
		}
		if current == len(migs) {
			return nil
		}
	} else if isConnLoss(err) {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, advisoryKey("schema")); err != nil {
		return fmt.Errorf("lock the schema: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+schemaVersionTable+` (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create the schema version table: %w", err)
	}
	var v int
	err = tx.QueryRowContext(ctx, `SELECT version FROM `+schemaVersionTable).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		_, err = tx.ExecContext(ctx, `INSERT INTO `+schemaVersionTable+` (version) VALUES (0)`)
	}
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if v > len(migs) {
		return fmt.Errorf("%w: schema version %d, this binary knows up to %d", sqlitedb.ErrTooNew, v, len(migs))
	}
	if v == len(migs) {
		return nil
	}
	for i := v; i < len(migs); i++ {
		if _, err := tx.ExecContext(ctx, migs[i]); err != nil {
			return fmt.Errorf("apply migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE `+schemaVersionTable+` SET version = $1`, len(migs)); err != nil {
		return fmt.Errorf("record schema version %d: %w", len(migs), err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migrations %d to %d: %w", v+1, len(migs), err)
	}
	return nil
}

// advisoryKey maps a name to a 64-bit advisory lock key (the first 8 bytes of its SHA-256, under a "stix/"
// prefix so that other users of the same database are unlikely to collide with stix's keys).
func advisoryKey(name string) int64 {
	sum := sha256.Sum256([]byte("stix/" + name))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// lockConnConfig is cfg for lock connections, with TCP keepalives set on the server side of the connection: a
// holder whose host vanishes without closing its socket is noticed within about a minute and its locks freed.
// (A holder process that dies closes its socket, and the server frees its locks at once.)
func lockConnConfig(cfg *pgx.ConnConfig) *pgx.ConnConfig {
	c := cfg.Copy()
	if c.RuntimeParams == nil {
		c.RuntimeParams = map[string]string{}
	}
	c.RuntimeParams["application_name"] = "stix cluster lock"
	c.RuntimeParams["tcp_keepalives_idle"] = "30"
	c.RuntimeParams["tcp_keepalives_interval"] = "10"
	c.RuntimeParams["tcp_keepalives_count"] = "3"
	return c
}

// advisoryLocks are cluster locks as PostgreSQL session-level advisory locks, each held by its own connection:
// the lock lives exactly as long as that connection, so it is released by unlock, or by the server when the
// holding process dies. Locks are per connection, so two holders in one process exclude each other as two
// processes do.
type advisoryLocks struct {
	cfg   *pgx.ConnConfig
	where string
}

func (l *advisoryLocks) lock(ctx context.Context, name string, wait bool) (func() error, string, error) {
	where := fmt.Sprintf("advisory lock on %q in %s", name, l.where)
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return nil, where, err
	}
	key := advisoryKey("cluster/" + name)
	if wait {
		// Cancelling ctx cancels the wait: pgx interrupts the query, and the connection is closed below.
		_, err = conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key)
	} else {
		var ok bool
		err = conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok)
		if err == nil && !ok {
			err = errLockBusy
		}
	}
	if err != nil {
		conn.Close(context.Background())
		return nil, where, err
	}
	var once sync.Once
	var unlockErr error
	unlock := func() error {
		once.Do(func() {
			// Unlock first, so that the lock is free when unlock returns; closing alone frees it only once
			// the server has noticed.
			var released bool
			err := conn.QueryRow(context.Background(), `SELECT pg_advisory_unlock($1)`, key).Scan(&released)
			switch {
			case err != nil:
				unlockErr = fmt.Errorf("unlock cluster %q: the lock was lost with its connection to %s: %w", name, l.where, err)
			case !released:
				unlockErr = fmt.Errorf("unlock cluster %q: the lock was no longer held", name)
			}
			conn.Close(context.Background())
		})
		return unlockErr
	}
	return unlock, where, nil
}

// connLost explains an error that says the connection to PostgreSQL was lost or refused (the server went away,
// shut down, or the network failed), adding outcome: what that means for the data. Other errors, and every
// SQLite error, are returned as they are.
func (s *sqlStore) connLost(err error, outcome string) error {
	if err == nil || !s.postgres || !isConnLoss(err) {
		return err
	}
	return fmt.Errorf("lost the connection to %s (%w): %s; check that the server is up and reachable", s.where, err, outcome)
}

// isConnLoss reports whether err is a lost or refused connection rather than an answer of the server.
func isConnLoss(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; class 57P: the server is shutting down or cannot be reached.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P")
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, driver.ErrBadConn) ||
		errors.As(err, &netErr) || errors.As(err, &connectErr)
}
