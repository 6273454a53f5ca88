// Package storage is stix's object storage: bucket URIs (s3://, gs://, r2://), the Store interface that the
// hand-written S3 (package storage/s3: AWS S3, Cloudflare R2, MinIO and other S3-compatible stores) and GCS
// (package storage/gcs) clients implement, and the two transfers launch and the node agent build on: Upload, which
// syncs local files to a bucket sending only what changed, and Download, which does the reverse into a directory.
// It imports no cloud SDK: the agent links it to copy buckets onto nodes (docs/storage.md).
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Store is one object store reached with one set of credentials: its buckets and their objects. Keys are
// slash-separated object names without a leading slash. Errors are *Error where the store answered.
type Store interface {
	// Kind says which store this is.
	Kind() Kind
	// BucketExists reports whether the bucket exists and these credentials can reach it: (false, nil) when it
	// does not exist; an error (ErrAccessDenied, ErrAuth ...) when it exists but is not readable.
	BucketExists(ctx context.Context, bucket string) (bool, error)
	// CreateBucket makes the bucket (in the store's region or location). A bucket that exists already is
	// ErrBucketOwnedByYou or ErrBucketTaken.
	CreateBucket(ctx context.Context, bucket string) error
	// MarkBucket marks the bucket, on the store itself, as one stix created: an S3 bucket tag or a GCS bucket
	// label ManagedLabel=true (MakeBucket).
	MarkBucket(ctx context.Context, bucket string) error
	// BucketMarked reports whether the bucket carries MarkBucket's mark.
	BucketMarked(ctx context.Context, bucket string) (bool, error)
	// DeleteBucket removes the bucket; with force it first deletes every object in it (a bucket must be empty).
	DeleteBucket(ctx context.Context, bucket string, force bool) error
	// List calls fn for every object whose key starts with prefix, in key order, page by page.
	List(ctx context.Context, bucket, prefix string, fn func(Object) error) error
	// Stat returns one object's attributes, with its metadata (ErrNoSuchKey when it does not exist).
	Stat(ctx context.Context, bucket, key string) (Object, error)
	// Put stores size bytes read from body under key, replacing what was there. Large objects are uploaded in
	// parts (in parallel where the store allows it), which is why body is an io.ReaderAt.
	Put(ctx context.Context, bucket, key string, body io.ReaderAt, size int64, opts PutOptions) (Object, error)
	// Get streams an object's content; the caller closes it.
	Get(ctx context.Context, bucket, key string) (io.ReadCloser, Object, error)
	// DeleteObjects deletes the keys (in batches where the store allows it); a key that does not exist is not an
	// error.
	DeleteObjects(ctx context.Context, bucket string, keys []string) error
}

// ManagedLabel is the key of the bucket tag (S3) or label (GCS) that marks a bucket stix created, with the value
// "true". An API server honours a client's word that it created a bucket (api.SourcesInBucket.Created, which
// lets `persistent: false` delete the bucket at down) only for a bucket that carries it: a bucket made outside
// stix has no such tag (docs/storage.md, "Buckets stix made").
const ManagedLabel = "stix-managed"

// MakeBucket is how stix creates a bucket: CreateBucket, then MarkBucket. A store that cannot tag buckets leaves
// the bucket unmarked (it is made all the same): an API server then never deletes it on a client's word.
func MakeBucket(ctx context.Context, st Store, bucket string) error {
	if err := st.CreateBucket(ctx, bucket); err != nil {
		return err
	}
	_ = st.MarkBucket(ctx, bucket)
	return nil
}

// Object is what a store says of one object.
type Object struct {
	Key  string
	Size int64
	// MD5 is the hex MD5 of the content when the store states it: S3's ETag of a single-part upload (not with
	// SSE-KMS), GCS's md5Hash; else stix's own metadata (MetaMD5), which Stat returns and List does not.
	MD5 string
	// ETag is the store's entity tag, unquoted (S3's "<md5 of part md5s>-N" for multipart uploads).
	ETag     string
	Modified time.Time
	// Metadata is the user metadata (x-amz-meta-*, GCS metadata), keys lower-cased; Stat and Get fill it.
	Metadata map[string]string
}

// MetaMD5 is the user-metadata key under which stix stores the hex MD5 of a whole object's content on every
// upload. S3 states no usable MD5 for a multipart object (its ETag hashes the parts) nor under SSE-KMS, so Upload
// and Download compare with this one there (docs/storage.md, "What changed").
const MetaMD5 = "stix-md5"

// PutOptions are what Put may be given besides the content.
type PutOptions struct {
	// MD5 is the content's hex MD5 when the caller knows it (Upload does): the store checks it, and it is saved
	// under MetaMD5. Empty: Put computes it (one more read of body).
	MD5 string
	// Metadata is user metadata to store with the object.
	Metadata map[string]string
	// ContentType defaults to application/octet-stream.
	ContentType string
}

// Kind names an object store, as `store:` in a task's file_mounts spells it.
type Kind string

// The stores stix speaks to.
const (
	S3  Kind = "s3"
	GCS Kind = "gcs"
	R2  Kind = "r2"
)

// Scheme returns the kind's URI scheme: s3, gs, r2.
func (k Kind) Scheme() string {
	if k == GCS {
		return "gs"
	}
	return string(k)
}

// Endpoint is where an S3-compatible store is reached, as stix's config (or the AWS variables) names it.
type Endpoint struct {
	// URL is the store's base URL, e.g. http://127.0.0.1:9000 or https://s3.example.com. Empty: AWS S3.
	URL string
	// Region signs requests and places new buckets; empty: the AWS variables' and profile's, else us-east-1.
	Region string
	// PathStyle puts the bucket in the path (http://host/bucket/key) rather than the host name
	// (http://bucket.host/key). It is implied for an endpoint that is an IP address or localhost.
	PathStyle bool
}

// The kinds of failure a store's answer is classified into; *Error wraps one of them (errors.Is).
var (
	ErrNoSuchBucket     = errors.New("the bucket does not exist")
	ErrNoSuchKey        = errors.New("the object does not exist")
	ErrBucketOwnedByYou = errors.New("the bucket exists already and is yours")
	ErrBucketTaken      = errors.New("the bucket name is taken by another account")
	ErrBucketNotEmpty   = errors.New("the bucket is not empty")
	ErrAccessDenied     = errors.New("access denied")
	ErrAuth             = errors.New("the store rejected the credentials")
	ErrInvalidName      = errors.New("invalid bucket name")
)

// Error is an error answer of a store.
type Error struct {
	Store  Kind
	Op     string // "create bucket", "put", ...
	Bucket string
	Key    string
	// Kind is one of the Err* values above, or nil for another failure.
	Kind error
	// Status is the HTTP status; Code and Message the store's own (NoSuchBucket, "The specified bucket does not
	// exist").
	Status  int
	Code    string
	Message string
	// RequestID identifies the request for the store's support.
	RequestID string
}

func (e *Error) Error() string {
	where := e.Store.Scheme() + "://" + e.Bucket
	if e.Key != "" {
		where += "/" + e.Key
	}
	msg := fmt.Sprintf("%s %s: ", e.Op, where)
	if e.Kind != nil {
		msg += e.Kind.Error() + " ("
	}
	detail := e.Code
	if e.Message != "" {
		if detail != "" {
			detail += ": "
		}
		detail += e.Message
	}
	if e.Status != 0 {
		detail = fmt.Sprintf("HTTP %d %s", e.Status, detail)
	}
	msg += detail
	if e.Kind != nil {
		msg += ")"
	}
	if fix := e.fix(); fix != "" {
		msg += "; " + fix
	}
	return msg
}

// fix says what to do about the kinds a user can act on.
func (e *Error) fix() string {
	switch e.Kind {
	case ErrNoSuchBucket:
		return "check the name, or let stix create it (a local source makes a stix-managed bucket)"
	case ErrBucketTaken:
		return "bucket names are global to the store: choose another name"
	case ErrAccessDenied:
		return "the credentials cannot use this bucket: check its permissions and the account in use"
	case ErrAuth:
		switch e.Store {
		case GCS:
			return "check the credentials (`gcloud auth application-default login`, or GOOGLE_APPLICATION_CREDENTIALS)"
		case R2:
			return "check the r2 profile of ~/.cloudflare/r2.credentials and ~/.cloudflare/accountid"
		}
		return "check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the profile in ~/.aws/credentials (AWS_PROFILE)"
	}
	return ""
}

// Unwrap returns the kind, so that errors.Is(err, storage.ErrNoSuchBucket) works.
func (e *Error) Unwrap() error { return e.Kind }

// CredentialsError is ErrAuth (errors.Is) for credentials that were not found, rather than refused: Reason says
// where stix looked and what to do.
type CredentialsError struct {
	Store  Kind
	Reason string
}

func (e *CredentialsError) Error() string { return string(e.Store) + ": " + e.Reason }

// Unwrap returns ErrAuth.
func (e *CredentialsError) Unwrap() error { return ErrAuth }
