// Command sqlitestatus is the least a `stix status` that reads SQLite can cost, for bench/startup.sh: it links only
// the SQLite driver, opens $STIX_HOME/state.db with stix's settings, reads the two header values stix checks at
// open, lists the clusters with the columns `stix status` shows and prints their names. No command tree, no
// config, no JSON, no table rendering: what is left is process start, the driver's inits and the SQL work.
package main

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sqlitestatus:", err)
		os.Exit(1)
	}
}

func run() error {
	path := filepath.Join(os.Getenv("STIX_HOME"), "state.db")
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		return err
	}
	defer db.Close()
	var mode string
	var version int
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	rows, err := db.Query(`SELECT c.name, h.status, h.cloud, h.region, h.num_nodes, h.resources, c.launched_at,
		c.autostop_idle_minutes, c.handle FROM clusters c JOIN cluster_history h ON h.id = c.history_id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name, status, cloud, region, resources, handle string
		var nodes, autostop int
		var launched int64
		if err := rows.Scan(&name, &status, &cloud, &region, &nodes, &resources, &launched, &autostop, &handle); err != nil {
			return err
		}
		fmt.Println(name, status)
	}
	return rows.Err()
}
