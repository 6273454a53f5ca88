package store

import "database/sql"

// SQL is the database under a Store opened by this package, for a package that owns tables of its own in the
// state database (the API server's requests and request_events, created by migration 4): they then live in
// the same database as the clusters, SQLite or PostgreSQL, and are migrated with them.
type SQL struct {
	DB *sql.DB
	// Postgres is set on PostgreSQL.
	Postgres bool
	// Q rewrites a query written with ? placeholders into the database's dialect.
	Q func(query string) string
}

// SQLOf returns the database under s, and false when s is not a Store of this package.
func SQLOf(s Store) (SQL, bool) {
	ss, ok := s.(*sqlStore)
	if !ok {
		return SQL{}, false
	}
	return SQL{DB: ss.db, Postgres: ss.postgres, Q: ss.q}, true
}
