package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// StorageStatus is a bucket record's state, as SkyPilot names them.
type StorageStatus string

// The states of a bucket record: INIT while it is being created, UPLOADING while a local source is uploaded,
// READY once it holds its sources, UPLOAD_FAILED after an upload that did not finish (the next launch uploads
// again), DELETING while `storage delete` or `down` removes it.
const (
	StorageInit         StorageStatus = "INIT"
	StorageUploading    StorageStatus = "UPLOADING"
	StorageReady        StorageStatus = "READY"
	StorageUploadFailed StorageStatus = "UPLOAD_FAILED"
	StorageDeleting     StorageStatus = "DELETING"
)

// Storage is a bucket stix knows of (store migration 11). Managed is set only on a bucket stix created: only
// those are ever deleted, by `stix storage delete` or at `down` when Persistent is false.
type Storage struct {
	Name       string
	Store      string // s3, gcs, r2
	Sources    []string
	Endpoint   string
	Region     string
	Managed    bool
	Persistent bool
	User       string
	Workspace  string
	Cluster    string // the cluster whose launch made or last used the bucket
	Status     StorageStatus
	LaunchedAt time.Time
	UpdatedAt  time.Time
	Command    string // the last command that used the bucket
}

// StorageNotFoundError is the error for a bucket name with no record.
type StorageNotFoundError struct{ Name string }

func (e *StorageNotFoundError) Error() string {
	return fmt.Sprintf("storage %q does not exist", e.Name)
}

// Is makes the error match ErrNotFound.
func (e *StorageNotFoundError) Is(target error) bool { return target == ErrNotFound }

// Buckets is the storage table of a Store opened by this package.
type Buckets struct{ sq SQL }

// BucketsOf returns the storage table of st.
func BucketsOf(st Store) (*Buckets, error) {
	sq, ok := SQLOf(st)
	if !ok {
		return nil, errors.New("storage: the state store is not a SQL database")
	}
	return &Buckets{sq: sq}, nil
}

const storageCols = `name, store, sources, endpoint, region, managed, persistent, user_name, workspace, cluster, status, launched_at, updated_at, last_command`

// Put inserts or replaces a bucket's record.
func (b *Buckets) Put(ctx context.Context, s *Storage) error {
	src, err := json.Marshal(s.Sources)
	if err != nil {
		return err
	}
	if s.Sources == nil {
		src = []byte("[]")
	}
	ws := s.Workspace
	if ws == "" {
		ws = "default"
	}
	_, err = b.sq.DB.ExecContext(ctx, b.sq.Q(`INSERT INTO storage (`+storageCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET store = excluded.store, sources = excluded.sources, endpoint = excluded.endpoint,
		region = excluded.region, managed = excluded.managed, persistent = excluded.persistent, user_name = excluded.user_name,
		workspace = excluded.workspace, cluster = excluded.cluster, status = excluded.status,
		launched_at = excluded.launched_at, updated_at = excluded.updated_at, last_command = excluded.last_command`),
		s.Name, s.Store, string(src), s.Endpoint, s.Region, s.Managed, s.Persistent, s.User, ws, s.Cluster,
		string(s.Status), s.LaunchedAt.UnixNano(), s.UpdatedAt.UnixNano(), s.Command)
	if err != nil {
		return fmt.Errorf("record storage %q: %w", s.Name, err)
	}
	return nil
}

// SetStatus changes a bucket's status at time at.
func (b *Buckets) SetStatus(ctx context.Context, name string, status StorageStatus, at time.Time) error {
	res, err := b.sq.DB.ExecContext(ctx, b.sq.Q(`UPDATE storage SET status = ?, updated_at = ? WHERE name = ?`),
		string(status), at.UnixNano(), name)
	if err != nil {
		return fmt.Errorf("storage %q: set status: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return &StorageNotFoundError{Name: name}
	}
	return nil
}

func scanStorage(sc interface{ Scan(...any) error }) (*Storage, error) {
	var (
		s                 Storage
		src, status       string
		launched, updated int64
	)
	if err := sc.Scan(&s.Name, &s.Store, &src, &s.Endpoint, &s.Region, &s.Managed, &s.Persistent, &s.User,
		&s.Workspace, &s.Cluster, &status, &launched, &updated, &s.Command); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(src), &s.Sources); err != nil {
		return nil, fmt.Errorf("storage %q: sources: %w", s.Name, err)
	}
	s.Status, s.LaunchedAt, s.UpdatedAt = StorageStatus(status), time.Unix(0, launched), time.Unix(0, updated)
	return &s, nil
}

// Get returns a bucket's record, or a *StorageNotFoundError.
func (b *Buckets) Get(ctx context.Context, name string) (*Storage, error) {
	s, err := scanStorage(b.sq.DB.QueryRowContext(ctx, b.sq.Q(`SELECT `+storageCols+` FROM storage WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &StorageNotFoundError{Name: name}
	}
	return s, err
}

// List returns every bucket record, sorted by name.
func (b *Buckets) List(ctx context.Context) ([]*Storage, error) {
	return b.list(ctx, `SELECT `+storageCols+` FROM storage ORDER BY name`)
}

// OfCluster returns the records of the buckets cluster's launches made or last used, sorted by name.
func (b *Buckets) OfCluster(ctx context.Context, cluster string) ([]*Storage, error) {
	return b.list(ctx, `SELECT `+storageCols+` FROM storage WHERE cluster = ? ORDER BY name`, cluster)
}

func (b *Buckets) list(ctx context.Context, query string, args ...any) ([]*Storage, error) {
	rows, err := b.sq.DB.QueryContext(ctx, b.sq.Q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("list storage: %w", err)
	}
	defer rows.Close()
	var out []*Storage
	for rows.Next() {
		s, err := scanStorage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Delete removes a bucket's record; removing one that is not there does nothing.
func (b *Buckets) Delete(ctx context.Context, name string) error {
	if _, err := b.sq.DB.ExecContext(ctx, b.sq.Q(`DELETE FROM storage WHERE name = ?`), name); err != nil {
		return fmt.Errorf("remove the record of storage %q: %w", name, err)
	}
	return nil
}
