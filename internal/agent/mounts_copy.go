package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/stix-run/stix/internal/cloud/gcp/gcpauth"
	"github.com/stix-run/stix/internal/storage"
	"github.com/stix-run/stix/internal/storage/gcs"
	"github.com/stix-run/stix/internal/storage/s3"
)

// copyBucket is COPY: the objects under the bucket's prefix downloaded into dest (storage.Download, with the
// hand-written clients: no SDK, no rclone) before the call returns; a prefix that is an object's key copies
// that object to the file dest.
func copyBucket(ctx context.Context, mt Mount, dest string) error {
	st, err := storeFor(mt)
	if err != nil {
		return fmt.Errorf("copy %s: %w", bucketURI(mt.Store, mt.Bucket, mt.Prefix), err)
	}
	prefix := strings.Trim(mt.Prefix, "/")
	if prefix != "" {
		// A prefix that names an object is that one file (SkyPilot's `~/f: s3://bucket/path/file`).
		if _, err := st.Stat(ctx, mt.Bucket, prefix); err == nil {
			if _, err := storage.DownloadObject(ctx, st, mt.Bucket, prefix, dest); err != nil {
				return fmt.Errorf("copy %s to %s: %w", bucketURI(mt.Store, mt.Bucket, mt.Prefix), dest, err)
			}
			return nil
		} else if !errors.Is(err, storage.ErrNoSuchKey) {
			return fmt.Errorf("copy %s: %w", bucketURI(mt.Store, mt.Bucket, mt.Prefix), err)
		}
		prefix += "/"
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("create the copy's destination: %w", err)
	}
	if _, err := storage.Download(ctx, st, mt.Bucket, prefix, dest); err != nil {
		return fmt.Errorf("copy %s to %s: %w", bucketURI(mt.Store, mt.Bucket, mt.Prefix), dest, err)
	}
	return nil
}

// storeFor is the client of mt's store, with mt's credentials only (never the node's files).
func storeFor(mt Mount) (storage.Store, error) {
	c := mt.Creds
	switch mt.Store {
	case StoreS3, StoreR2:
		kind := storage.S3
		region := mt.Region
		if mt.Store == StoreR2 {
			kind = storage.R2
			if region == "" {
				region = "auto"
			}
		}
		cfg := s3.Config{Kind: kind, Endpoint: storage.Endpoint{URL: mt.Endpoint, Region: region, PathStyle: mt.PathStyle}}
		if c.AccessKeyID != "" {
			cfg.Credentials = s3.Static{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
		}
		return s3.New(cfg)
	case StoreGCS:
		cfg := gcs.Config{Endpoint: gcsRoot(mt.Endpoint)}
		switch {
		case c.GCSServiceAccount != "":
			var key gcpauth.Key
			if err := json.Unmarshal([]byte(c.GCSServiceAccount), &key); err != nil {
				return nil, fmt.Errorf("the GCS service-account key is not JSON: %v", err)
			}
			ts, err := gcpauth.NewTokenSource(key, "the service-account key sent with the mount", "", storage.NewHTTPClient())
			if err != nil {
				return nil, err
			}
			cfg.Tokens = ts
		case c.GCSAccessToken != "":
			cfg.Tokens = staticToken(c.GCSAccessToken)
		}
		return gcs.New(cfg)
	}
	return nil, fmt.Errorf("store %q: want s3, gcs or r2", mt.Store)
}

// gcsRoot is a GCS endpoint without the JSON API's path: Mount.Endpoint is the API's root (as storage/gcs takes
// it); "/storage/v1" is tolerated.
func gcsRoot(endpoint string) string {
	e := strings.TrimSuffix(endpoint, "/")
	return strings.TrimSuffix(e, "/storage/v1")
}

type staticToken string

func (t staticToken) Token(context.Context) (string, error) { return string(t), nil }
