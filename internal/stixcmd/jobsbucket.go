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
	"github.com/stix-run/stix/internal/spec"
	"github.com/stix-run/stix/internal/storage"
	"github.com/stix-run/stix/internal/storage/stores"
)

// jobsBucket is the intermediate bucket of config `jobs.bucket` (`serve.bucket` for a service; docs/storage.md,
// "Data for controllers"): a controller's task's local paths go there instead of to the API server's upload
// route.
type jobsBucket struct {
	uri storage.URI
	key string // the config key that named it, for messages: jobs.bucket, serve.bucket
	// open returns the store of a kind, with the client's credentials and endpoint.
	open func(kind storage.Kind) (storage.Store, error)
}

// Controllers whose tasks' files may travel through an intermediate bucket, named as their config sections.
const (
	jobsController  = "jobs"
	serveController = "serve"
)

// bucketOf reads controller's intermediate bucket (`jobs.bucket` or `serve.bucket`) from the request's config
// layers, as the core reads other keys: the user's file (STIX_HOME/config.yaml, else ~/.sky/config.yaml), the
// project file, the task's `config:` and --config. nil when it is not set, or when
// `<controller>.force_disable_cloud_bucket` is true (the upload route is used then, as SkyPilot's two-hop
// upload).
func (s serverControl) bucketOf(ts api.TaskSpec, controller string) (*jobsBucket, error) {
	home, err := s.home()
	if err != nil {
		return nil, err
	}
	in := config.Inputs{StixHome: home, Home: s.getenv("HOME"), Getenv: s.getenv}
	if ts.Config != nil {
		in.Cwd, in.CLI = ts.Config.Dir, ts.Config.Args
		in.Client = api.ConfigLayers{Project: ts.Config.Project, Layers: ts.Config.Layers}
	}
	if ts.YAML != "" {
		// A task that does not read has no config layer here: the server reports its errors.
		if p, err := spec.Load(ts.FileName, []byte(ts.YAML), spec.LoadOptions{}); err == nil && len(p.Tasks) > 0 {
			in.TaskFile, in.TaskConfig = ts.FileName, p.Tasks[0].ConfigNode()
		}
	}
	cfg, err := config.Load(in)
	if err != nil {
		return nil, err
	}
	key := controller + ".bucket"
	if off, ok := cfg.Get(controller + ".force_disable_cloud_bucket"); ok && off == true {
		return nil, nil
	}
	v, ok := cfg.Get(key)
	if !ok || v == nil || v == "" {
		return nil, nil
	}
	raw, isStr := v.(string)
	if !isStr {
		return nil, fmt.Errorf("config %s is %v: write a bucket URI, e.g. `%s: {bucket: s3://my-bucket}`", key, v, controller)
	}
	u, err := storage.ParseURI(raw)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", key, err)
	}
	ep := storage.Endpoint{}
	if e, ok := cfg.Get("storage.s3.endpoint_url"); ok {
		ep.URL, _ = e.(string)
	}
	if r, ok := cfg.Get("storage.s3.region"); ok {
		ep.Region, _ = r.(string)
	}
	env := credcheck.Env{Home: s.getenv("HOME"), Getenv: s.getenv}.WithDefaults()
	return &jobsBucket{uri: u, key: key, open: func(kind storage.Kind) (storage.Store, error) {
		return stores.Open(kind, stores.Options{Env: &env, Endpoint: ep, S3CredentialChain: aws.StorageCredentials})
	}}, nil
}

// uploadToBucket puts the task's local paths (workdir, file mount sources) in the intermediate bucket, under a
// prefix of this request's own (PATH/job-RANDOM/workdir, .../file-mounts/N), and names each in ts.Uploads by its
// bucket URI: the core then copies them onto the nodes from there (COPY), and the controller deletes them once
// the job has ended. A workdir leaves out what its .skyignore/.gitignore say, as the upload route does. A
// storage entry's local sources go to the entry's own bucket instead (made if missing), as SkyPilot sends them,
// and ts.InBucket names the entry. The API server receives no files.
func (b *jobsBucket) uploadToBucket(ctx context.Context, ts api.TaskSpec) (out api.TaskSpec, undo func(), err error) {
	undo = func() {}
	paths, entries := localPaths(ts)
	if len(paths) == 0 {
		return ts, undo, nil
	}
	var undos []func()
	undo = func() {
		for _, u := range undos {
			u()
		}
	}
	if ts, undos, err = b.storageToBuckets(ctx, ts, entries); err != nil {
		undo()
		return ts, func() {}, err
	}
	written := make([]string, 0, len(paths))
	for w, p := range paths {
		if !p.storage {
			written = append(written, w)
		}
	}
	if len(written) == 0 {
		return ts, undo, nil
	}
	st, err := b.open(b.uri.Kind)
	if err != nil {
		undo()
		return ts, func() {}, fmt.Errorf("config %s %s: %w", b.key, b.uri, err)
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		undo()
		return ts, func() {}, err
	}
	prefix := path.Join(b.uri.Path, "job-"+hex.EncodeToString(rnd[:]))
	// undo deletes what was sent, for a request that is not submitted after all (best effort: the prefix is
	// the request's own).
	undos = append(undos, func() { _, _ = storage.DeletePrefix(context.WithoutCancel(ctx), st, b.uri.Bucket, prefix) })
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
		if _, err := (storage.Sync{Ignore: p.ignore}).Upload(ctx, st, b.uri.Bucket, sub, p.abs); err != nil {
			undo()
			return ts, func() {}, fmt.Errorf("upload %s to the intermediate bucket %s (config %s): %w", w, b.uri, b.key, err)
		}
		u := storage.URI{Kind: b.uri.Kind, Bucket: b.uri.Bucket, Path: sub}
		if fi, err := os.Stat(p.abs); err == nil && !fi.IsDir() {
			u.Path = path.Join(sub, filepath.Base(p.abs)) // one file goes to PREFIX/NAME
		}
		ts.Uploads[w] = u.String()
	}
	return ts, undo, nil
}

// storageToBuckets uploads each storage entry's local sources to the entry's own bucket (`name:` on `store:`),
// creating the bucket where it is missing, with the client's credentials; the core then uses the bucket as it
// is (ts.InBucket), and records a bucket made here as one stix created (it is made as stix makes buckets,
// storage.MakeBucket, marked stix-managed: the server checks that mark before it believes the claim). undos delete the buckets made here, for
// a request that is not submitted.
func (b *jobsBucket) storageToBuckets(ctx context.Context, ts api.TaskSpec, entries []storageSources) (api.TaskSpec, []func(), error) {
	var undos []func()
	for _, e := range entries {
		kind := storage.S3
		if e.entry.Store != "" {
			k, err := storage.ParseKind(e.entry.Store)
			if err != nil {
				continue // the core says what is wrong with the entry
			}
			kind = k
		}
		if storage.ValidateBucketName(kind, e.entry.Name) != nil || len(e.abs) > 1 && e.entry.Mode != "COPY" {
			continue
		}
		uri := storage.URI{Kind: kind, Bucket: e.entry.Name}
		st, err := b.open(kind)
		if err != nil {
			return ts, undos, fmt.Errorf("file_mounts %s: %s: %w", e.dest, uri, err)
		}
		ok, err := st.BucketExists(ctx, e.entry.Name)
		if err != nil {
			return ts, undos, fmt.Errorf("file_mounts %s: %s: %w", e.dest, uri, err)
		}
		if !ok {
			if err := storage.MakeBucket(ctx, st, e.entry.Name); err != nil && !errors.Is(err, storage.ErrBucketOwnedByYou) {
				return ts, undos, fmt.Errorf("file_mounts %s: create bucket %s: %w", e.dest, uri, err)
			}
			undos = append(undos, func() { _ = st.DeleteBucket(context.WithoutCancel(ctx), e.entry.Name, true) })
		}
		if _, err := (storage.Sync{Ignore: true}).Upload(ctx, st, e.entry.Name, "", e.abs...); err != nil {
			return ts, undos, fmt.Errorf("file_mounts %s: upload to %s: %w", e.dest, uri, err)
		}
		if ts.InBucket == nil {
			ts.InBucket = map[string]api.SourcesInBucket{}
		}
		ts.InBucket[e.dest] = api.SourcesInBucket{Created: !ok}
	}
	return ts, undos, nil
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
