package cluster

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/spec"
	"github.com/stix-run/stix/internal/storage"
)

// Buckets is what the lifecycle needs of object storage, for one store (s3, gcs, r2) reached with the caller's
// credentials and endpoint; internal/storage implements it. Errors that say a bucket is missing match
// ErrNoBucket and those that say another account owns its name match ErrBucketTaken (errors.Is); any other
// error means the store could not be reached or refused the caller.
type Buckets interface {
	// Check answers nil when bucket exists and the caller may use it.
	Check(ctx context.Context, store, bucket string) error
	// Create makes an empty bucket, marked on the store as one stix made (storage.MakeBucket).
	Create(ctx context.Context, store, bucket string) error
	// Marked reports whether bucket carries the mark of a bucket stix made (storage.ManagedLabel).
	Marked(ctx context.Context, store, bucket string) (bool, error)
	// Upload puts local files and trees under prefix in bucket, sending only what changed, and says how many
	// files it sent.
	Upload(ctx context.Context, store, bucket, prefix string, sources []string) (sent int, err error)
	// Delete deletes bucket and every object in it, on the endpoint the bucket's record names ("": the store's
	// own or the caller's configured one): a bucket lives where it was made, whatever the caller's defaults.
	Delete(ctx context.Context, store, endpoint, bucket string) error
	// Endpoint names where store is reached ("" for the store's own) and in which region.
	Endpoint(store string) (endpoint, region string)
	// NodeAccess is how a node reaches store at endpoint (as Endpoint names it, recorded with the mounts; "":
	// the caller's): the endpoint, region and addressing of its mounts, and the caller's credentials
	// (short-lived where the store gives such). The credentials are secrets: they go to the node's agent in the
	// mount call and nowhere else.
	NodeAccess(ctx context.Context, store, endpoint string) (agent.Mount, error)
}

// ErrNoBucket is matched by a Buckets error for a bucket that does not exist.
var ErrNoBucket = errors.New("bucket does not exist")

// ErrBucketTaken is matched by a Buckets error for a bucket name another account owns.
var ErrBucketTaken = errors.New("bucket name is owned by another account")

// bucketMount is one bucket file mount of a task, checked before anything is made: a bucket (or a path in
// one) mounted or copied at Dest, and, for a storage object with local sources, what is uploaded to it first.
type bucketMount struct {
	Dest   string
	Mode   string // COPY, MOUNT, MOUNT_CACHED
	Store  string // s3, gcs, r2
	Bucket string
	Prefix string
	// Named: a storage object naming its bucket (with local sources, or none): stix records it, and creates
	// the bucket when it is missing. A bucket given by URI is only checked.
	Named bool
	// MadeByClient: an API server's client created the named bucket when it uploaded the sources (config
	// jobs.bucket): recorded as one stix created, if the bucket carries stix's mark (checkBuckets).
	MadeByClient bool
	Local        []string // local sources, absolute, uploaded to the bucket before provisioning
	// Shown are the local sources as the record names them: the client's paths (an API server's client), else
	// Local.
	Shown        []string
	Persistent   bool
	MountOptions string
}

// URI is the bucket URI of the mount, for messages.
func (b bucketMount) URI() string {
	u := storeScheme(b.Store) + "://" + b.Bucket
	if b.Prefix != "" {
		u += "/" + b.Prefix
	}
	return u
}

// storeScheme is the URI scheme of a store name.
func storeScheme(store string) string {
	if store == "gcs" {
		return "gs"
	}
	return store
}

// parseBucketURI splits s3://bucket/sub/path into its store, bucket and prefix (storage.ParseURI: the name by
// its store's rules; stores stix cannot reach yet are refused here, before anything is provisioned).
func parseBucketURI(uri string) (store, bucket, prefix string, err error) {
	u, err := storage.ParseURI(uri)
	if err != nil {
		return "", "", "", err
	}
	return string(u.Kind), u.Bucket, u.Path, nil
}

// storageMounts reads the task's bucket file mounts, refusing what cannot work before anything is made: a
// store stix cannot reach, a missing or unreadable local source, several sources where only COPY can take
// them, a local source with no bucket name, a name next to a bucket URI. Every check here is local; the
// stores are asked in checkBuckets.
func storageMounts(t *spec.Task) ([]bucketMount, error) {
	var out []bucketMount
	for _, fm := range t.FileMounts {
		switch {
		case fm.Storage == nil && isBucketURI(fm.Source):
			// A bucket URI as a plain file mount is copied to the node, as in SkyPilot.
			store, bucket, prefix, err := parseBucketURI(fm.Source)
			if err != nil {
				return nil, fmt.Errorf("file_mounts %s: %w", fm.Dest, err)
			}
			out = append(out, bucketMount{Dest: fm.Dest, Mode: "COPY", Store: store, Bucket: bucket, Prefix: prefix, Persistent: true})
		case fm.Storage != nil:
			b, err := storageObject(fm.Dest, fm.Storage)
			if err != nil {
				return nil, fmt.Errorf("file_mounts %s: %w: fix `file_mounts:` in the task", fm.Dest, err)
			}
			out = append(out, b)
		}
	}
	return out, nil
}

// storageObject checks one `{name, source, store, mode, persistent}` entry.
func storageObject(dest string, s *spec.StorageSpec) (bucketMount, error) {
	b := bucketMount{Dest: dest, Mode: s.Mode, Store: s.Store, Persistent: s.Persistent, MountOptions: s.MountOptions,
		MadeByClient: s.MadeByClient, Shown: s.ClientSources}
	if b.Mode == "" {
		b.Mode = "MOUNT"
	}
	var uris, local []string
	for _, src := range s.Sources {
		if strings.Contains(src, "://") {
			uris = append(uris, src)
		} else {
			local = append(local, src)
		}
	}
	switch {
	case len(uris) > 0 && len(local) > 0:
		return b, fmt.Errorf("source mixes bucket URIs (%s) and local paths (%s): a storage entry takes either one bucket or local paths", strings.Join(uris, ", "), strings.Join(local, ", "))
	case len(uris) > 1:
		return b, fmt.Errorf("source names %d buckets (%s): a storage entry takes one bucket; give each its own destination", len(uris), strings.Join(uris, ", "))
	case len(uris) == 1:
		store, bucket, prefix, err := parseBucketURI(uris[0])
		if err != nil {
			return b, err
		}
		if s.Name != "" && s.Name != bucket {
			return b, fmt.Errorf("name %q and source %s name different buckets: drop `name:` (the URI names the bucket)", s.Name, uris[0])
		}
		if s.Store != "" && s.Store != store {
			return b, fmt.Errorf("store %q does not match the source %s: drop `store:` or fix it", s.Store, uris[0])
		}
		b.Store, b.Bucket, b.Prefix = store, bucket, prefix
		return b, nil
	}
	if s.Name == "" {
		if len(local) == 0 {
			return b, errors.New("a storage entry needs `name:` (a bucket), `source:` (a bucket URI or local paths), or both")
		}
		return b, fmt.Errorf("a local source (%s) needs `name:`, the bucket stix creates and uploads it to", strings.Join(local, ", "))
	}
	if len(local) > 1 && b.Mode != "COPY" {
		return b, fmt.Errorf("mode %s takes one source, and %d are given: use `mode: COPY` for several local paths", b.Mode, len(local))
	}
	kind := storage.S3
	if b.Store != "" {
		var err error
		if kind, err = storage.ParseKind(b.Store); err != nil {
			return b, err
		}
	}
	b.Store = string(kind)
	if err := storage.ValidateBucketName(kind, s.Name); err != nil {
		return b, fmt.Errorf("name: %w", err)
	}
	b.Bucket, b.Named = s.Name, true
	for _, src := range local {
		p, err := expandHome(src)
		if err != nil {
			return b, err
		}
		if err := readableSource(p); err != nil {
			return b, fmt.Errorf("source %s: %w", src, err)
		}
		b.Local = append(b.Local, p)
	}
	return b, nil
}

// checkDestinations refuses two file mounts (or the workdir) onto one destination, and a file mount inside a
// bucket's destination or a bucket inside another file mount's: what the node shows there would depend on
// which is made last, and a local file copied into a mounted bucket would be uploaded into it.
func checkDestinations(t *spec.Task, buckets []bucketMount) error {
	type dest struct {
		path, what string
		bucket     bool
	}
	var all []dest
	if t.Workdir != nil && (t.Workdir.Path != "" || t.Workdir.URL != "") {
		all = append(all, dest{path: cleanDest(remoteWorkdir), what: "the workdir"})
	}
	for _, fm := range t.FileMounts {
		if fm.Storage == nil && !isBucketURI(fm.Source) {
			all = append(all, dest{path: cleanDest(fm.Dest), what: "file_mounts " + fm.Dest})
		}
	}
	for _, b := range buckets {
		all = append(all, dest{path: cleanDest(b.Dest), what: "file_mounts " + b.Dest + " (" + b.URI() + ")", bucket: true})
	}
	for i, a := range all {
		for _, b := range all[i+1:] {
			switch {
			case a.path == b.path:
				return fmt.Errorf("%s and %s both land on %s: give each its own destination", a.what, b.what, a.path)
			case (a.bucket || b.bucket) && (within(a.path, b.path) || within(b.path, a.path)):
				return fmt.Errorf("%s and %s are nested (%s, %s): a bucket's destination may not hold, or be inside, another file mount; give them separate destinations", a.what, b.what, a.path, b.path)
			}
		}
	}
	return nil
}

// cleanDest normalises a destination for comparison; "~/x" and "x" are both under the jobs' home.
func cleanDest(d string) string {
	d = strings.TrimPrefix(d, "~/")
	if d == "~" {
		d = "."
	}
	return path.Clean(d)
}

// within reports whether p is strictly inside dir.
func within(p, dir string) bool {
	if dir == "." {
		return !path.IsAbs(p) && p != "."
	}
	return strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// needsFUSE reports whether a task mounts buckets (MOUNT or MOUNT_CACHED), which its nodes need FUSE for.
func needsFUSE(t *spec.Task) bool {
	_, ok := fuseMount(t)
	return ok
}

// fuseMount is the first of a task's file mounts that needs FUSE (MOUNT or MOUNT_CACHED).
func fuseMount(t *spec.Task) (spec.FileMount, bool) {
	for _, fm := range t.FileMounts {
		if fm.Storage != nil && fm.Storage.Mode != "COPY" && !fm.Storage.ForceDelete {
			return fm, true
		}
	}
	return spec.FileMount{}, false
}

// refuseNoFUSE fails a new cluster's launch whose task mounts buckets, before any bucket is made, when none of
// the infra the task may land on can mount: every candidate of its resources names infra whose provider says
// its nodes cannot (cloud.NoFUSE: Kubernetes pods), or names none and every enabled infra says so. Where that
// cannot be told here (an infra stix does not know), the failover decides, as it would anyway.
func (m *Manager) refuseNoFUSE(ctx context.Context, t *spec.Task) error {
	fm, ok := fuseMount(t)
	if !ok {
		return nil
	}
	var names []string
	anyInfra := false
	cands, _ := t.Resources.Candidates()
	for _, c := range cands {
		if n := strings.ToLower(c.Infra.Cloud); n != "" {
			names = append(names, n)
		} else {
			anyInfra = true
		}
	}
	if anyInfra || len(cands) == 0 {
		enabled, err := m.enabled(ctx)
		if err != nil {
			return nil // the plan says what is wrong
		}
		names = append(names, enabled...)
	}
	var reasons []string
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		p, err := m.registry.Lookup(n)
		if err != nil {
			return nil
		}
		nf, ok := p.(cloud.NoFUSE)
		if !ok {
			return nil // this one may mount
		}
		reasons = append(reasons, catalog.DisplayName(p.Name())+" nodes cannot mount buckets ("+nf.NoFUSE()+")")
	}
	if len(reasons) == 0 {
		return nil
	}
	mode := fm.Storage.Mode
	if mode == "" {
		mode = "MOUNT"
	}
	return fmt.Errorf("file_mounts %s (%s) needs FUSE, and no infra this task may use can mount buckets: %s: use `mode: COPY` there",
		fm.Dest, mode, strings.Join(reasons, "; "))
}
