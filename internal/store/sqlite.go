package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/stix-run/stix/internal/sqlitedb"
)

func openSQLite(ctx context.Context, home string) (*sqlStore, error) {
	if home == "" {
		return nil, errors.New("open stix state: empty home directory; set STIX_HOME")
	}
	db, err := sqlitedb.OpenContext(ctx, filepath.Join(home, StateFile), sqliteMigrations)
	if err != nil {
		return nil, fmt.Errorf("open stix state: %w", err)
	}
	return &sqlStore{db: db, locks: fileLocks{home: home}}, nil
}
