package stixcmd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cloud/aws"
	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/config"
	"github.com/stix-run/stix/internal/storage"
	"github.com/stix-run/stix/internal/storage/stores"
)

// jobsBucket is the intermediate bucket of config `jobs.bucket` (docs/storage.md, "Data for controllers"): a
// managed job's local paths go there instead of to the API server's upload route.
type jobsBucket struct {
	uri storage.URI
	// open returns the store of a kind, with the client's credentials and endpoint.
	open func(kind storage.Kind) (storage.Store, error)
}

// jobsBucketOf reads `jobs.bucket` from the user's config (STIX_HOME/config.yaml, else ~/.sky/config.yaml); nil
// when it is not set.
func (s serverControl) jobsBucketOf() (*jobsBucket, error) {
	home, err := s.home()
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(config.Inputs{StixHome: home, Home: s.getenv("HOME"), Getenv: s.getenv})
	if err != nil {
		return nil, err
	}
	v, ok := cfg.Get("jobs.bucket")
	if !ok || v == nil || v == "" {
		return nil, nil
	}
	raw, isStr := v.(string)
	if !isStr {
		return nil, fmt.Errorf("config jobs.bucket is %v: write a bucket URI, e.g. `jobs: {bucket: s3://my-bucket}`", v)
	}
	u, err := storage.ParseURI(raw)
	if err != nil {
		return nil, fmt.Errorf("config jobs.bucket: %w", err)
	}
	ep := storage.Endpoint{}
	if e, ok := cfg.Get("storage.s3.endpoint_url"); ok {
		ep.URL, _ = e.(string)
	}
	if r, ok := cfg.Get("storage.s3.region"); ok {
		ep.Region, _ = r.(string)
	}
	env := credcheck.Env{Home: s.getenv("HOME"), Getenv: s.getenv}.WithDefaults()
	return &jobsBucket{uri: u, open: func(kind storage.Kind) (storage.Store, error) {
		return stores.Open(kind, stores.Options{Env: &env, Endpoint: ep, S3CredentialChain: aws.StorageCredentials})
	}}, nil
}

// uploadToBucket puts the task's local paths (workdir, file mount sources) in the intermediate bucket, under a
// prefix of this request's own (PATH/job-RANDOM/workdir, .../file-mounts/N), and names each in ts.Uploads by its
// bucket URI: the core then copies them onto the nodes from there (COPY), and the jobs controller deletes them
// once the job has ended. The API server receives no files.
func (b *jobsBucket) uploadToBucket(ctx context.Context, ts api.TaskSpec) (out api.TaskSpec, undo func(), err error) {
	undo = func() {}
	paths := localPaths(ts)
	if len(paths) == 0 {
		return ts, undo, nil
	}
	st, err := b.open(b.uri.Kind)
	if err != nil {
		return ts, undo, fmt.Errorf("config jobs.bucket %s: %w", b.uri, err)
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return ts, undo, err
	}
	prefix := path.Join(b.uri.Path, "job-"+hex.EncodeToString(rnd[:]))
	// undo deletes what was sent, for a request that is not submitted after all (best effort: the prefix is
	// the request's own).
	undo = func() { _, _ = storage.DeletePrefix(context.WithoutCancel(ctx), st, b.uri.Bucket, prefix) }
	written := make([]string, 0, len(paths))
	for w := range paths {
		written = append(written, w)
	}
	slices.Sort(written)
	ts.Uploads = map[string]string{}
	n := 0
	for _, w := range written {
		p := paths[w]
		sub := path.Join(prefix, "workdir")
		if !p.workdir {
			sub = path.Join(prefix, "file-mounts", fmt.Sprint(n))
			n++
		}
		if _, err := storage.Upload(ctx, st, b.uri.Bucket, sub, p.abs); err != nil {
			undo()
			return ts, func() {}, fmt.Errorf("upload %s to the intermediate bucket %s (config jobs.bucket): %w", w, b.uri, err)
		}
		u := storage.URI{Kind: b.uri.Kind, Bucket: b.uri.Bucket, Path: sub}
		if fi, err := os.Stat(p.abs); err == nil && !fi.IsDir() {
			u.Path = path.Join(sub, filepath.Base(p.abs)) // one file goes to PREFIX/NAME
		}
		ts.Uploads[w] = u.String()
	}
	return ts, undo, nil
}

// dropUploads is the jobs controller's Options.DropUploads: it deletes each bucket URI's objects (a directory's
// prefix, or one file) with the server's own credentials, as the server reaches buckets for launch.
func dropUploads(ctx context.Context, uris []string) error {
	opened := map[storage.Kind]storage.Store{}
	var errs []error
	for _, raw := range uris {
		u, err := storage.ParseURI(raw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		st := opened[u.Kind]
		if st == nil {
			if st, err = stores.Open(u.Kind, stores.Options{S3CredentialChain: aws.StorageCredentials}); err != nil {
				errs = append(errs, err)
				continue
			}
			opened[u.Kind] = st
		}
		if _, err := storage.DeletePrefix(ctx, st, u.Bucket, u.Path); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", raw, err))
		}
	}
	return errors.Join(errs...)
}
