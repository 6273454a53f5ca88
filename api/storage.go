package api

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// StorageClient is `stix storage`: the buckets stix knows of (those a task's file_mounts made or used).
type StorageClient interface {
	// StorageList lists the buckets recorded, sorted by name: an API server shows a user their own, an admin
	// every user's.
	StorageList(ctx context.Context) ([]Storage, error)
	// StorageDelete deletes buckets by name, or all the caller's with all. A bucket stix created is deleted with
	// its objects; one it did not create only loses its record. A bucket a live cluster mounts is refused.
	StorageDelete(ctx context.Context, req StorageDeleteRequest) (*Operation[[]StorageDeleteOutcome], error)
}

// Storage is one bucket record: a row of `stix storage ls` and what `-o json` prints.
type Storage struct {
	Name    string   `json:"name"`
	Store   string   `json:"store"` // s3, gcs, r2
	Sources []string `json:"sources,omitempty"`
	// Endpoint is the S3-compatible endpoint the bucket was reached at; empty for the store's own.
	Endpoint string `json:"endpoint,omitempty"`
	Region   string `json:"region,omitempty"`
	// Managed is set when stix created the bucket: only those are ever deleted.
	Managed    bool      `json:"managed"`
	Persistent bool      `json:"persistent"`
	User       string    `json:"user"`
	Workspace  string    `json:"workspace,omitempty"`
	Cluster    string    `json:"cluster,omitempty"` // the cluster whose launch made or last used it
	Status     string    `json:"status"`            // INIT, UPLOADING, READY, UPLOAD_FAILED, DELETING
	LaunchedAt time.Time `json:"launched_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	Command    string    `json:"last_command,omitempty"`
}

// StorageDeleteRequest selects the buckets to delete: Names, or All (the caller's).
type StorageDeleteRequest struct {
	Names []string `json:"names,omitempty"`
	All   bool     `json:"all,omitempty"`
}

// StorageDeleteOutcome is what became of one bucket named.
type StorageDeleteOutcome struct {
	Name string `json:"name"`
	// Deleted: the bucket itself was deleted (stix created it); otherwise only its record was removed.
	Deleted bool `json:"deleted"`
	// Error says why nothing was done to it.
	Error string `json:"error,omitempty"`
}

// StorageNotFoundError is the error for a bucket name stix has no record of.
type StorageNotFoundError struct{ Name string }

func (e *StorageNotFoundError) Error() string {
	return fmt.Sprintf("storage %q does not exist: see `stix storage ls`", e.Name)
}

func (c *HTTPClient) StorageList(ctx context.Context) ([]Storage, error) {
	var out []Storage
	return out, c.call(ctx, http.MethodGet, "/api/v1/storage", nil, nil, &out)
}

func (c *HTTPClient) StorageDelete(ctx context.Context, req StorageDeleteRequest) (*Operation[[]StorageDeleteOutcome], error) {
	return submit[[]StorageDeleteOutcome](ctx, c, "/api/v1/storage/delete", req)
}
