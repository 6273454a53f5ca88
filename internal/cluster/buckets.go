package cluster

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/storage"
	"github.com/stix-run/stix/internal/store"
)

// errNoBuckets is the error of a task with bucket file mounts in a build that cannot reach object storage.
var errNoBuckets = errors.New("this stix cannot reach object storage (no storage client configured)")

// bucketsFor returns the object storage client, or why there is none.
func (m *Manager) bucketsFor(ctx context.Context) (Buckets, error) {
	if m.newBuckets == nil {
		return nil, errNoBuckets
	}
	return m.newBuckets(ctx)
}

// bucketPlan is the task's buckets after checkBuckets: each mount, and which named buckets are missing (made by
// makeBuckets) or were made by stix before (recorded as managed).
type bucketPlan struct {
	bs      Buckets
	mounts  []bucketMount
	missing map[string]bool
	records map[string]*store.Storage // the records of named buckets, where there are some
	// unmarked are the buckets an API server's client said it created that carry no mark of stix's: they are
	// recorded as buckets stix did not make (never deleted), and makeBuckets says so.
	unmarked []string
}

// checkBuckets asks the stores about every bucket of the task, creating nothing: a bucket named by URI must
// exist and be reachable with the caller's credentials; a named one may be missing (stix makes it), and when
// it exists it must be the caller's to use.
func (m *Manager) checkBuckets(ctx context.Context, mounts []bucketMount) (*bucketPlan, error) {
	if len(mounts) == 0 {
		return nil, nil
	}
	bs, err := m.bucketsFor(ctx)
	if err != nil {
		return nil, fmt.Errorf("file_mounts %s (%s): %w", mounts[0].Dest, mounts[0].URI(), err)
	}
	st, err := m.store(ctx)
	if err != nil {
		return nil, err
	}
	tbl, err := store.BucketsOf(st)
	if err != nil {
		return nil, err
	}
	plan := &bucketPlan{bs: bs, mounts: mounts, missing: map[string]bool{}, records: map[string]*store.Storage{}}
	for i := range mounts {
		b := &mounts[i]
		if b.Named {
			r, err := tbl.Get(ctx, b.Bucket)
			switch {
			case err == nil && r.Store != b.Store:
				return nil, fmt.Errorf("file_mounts %s: bucket %q is recorded on store %s, not %s: fix `store:` or choose another name", b.Dest, b.Bucket, r.Store, b.Store)
			case err == nil:
				plan.records[b.Bucket] = r
			case !store.IsNotFound(err):
				return nil, err
			}
		}
		err := bs.Check(ctx, b.Store, b.Bucket)
		switch {
		case err == nil:
		case errors.Is(err, ErrNoBucket) && b.Named:
			plan.missing[b.Bucket] = true
		case errors.Is(err, ErrNoBucket):
			return nil, fmt.Errorf("file_mounts %s: bucket %s://%s does not exist: check its name, or give the entry `name: %s` and a local `source:` to have stix create it", b.Dest, storeScheme(b.Store), b.Bucket, b.Bucket)
		case errors.Is(err, storage.ErrAuth):
			return nil, fmt.Errorf("file_mounts %s: store %s did not accept the credentials for %s: %w", b.Dest, b.Store, b.URI(), err)
		case errors.Is(err, ErrBucketTaken) && !b.Named:
			return nil, fmt.Errorf("file_mounts %s: bucket %s://%s exists but these credentials may not use it: %w", b.Dest, storeScheme(b.Store), b.Bucket, err)
		case errors.Is(err, ErrBucketTaken):
			return nil, fmt.Errorf("file_mounts %s: bucket name %s is owned by another account: choose another name", b.Dest, b.Bucket)
		default:
			ep, _ := bs.Endpoint(b.Store)
			if ep == "" {
				ep = "its default endpoint"
			}
			return nil, fmt.Errorf("file_mounts %s: cannot reach store %s at %s: %w", b.Dest, b.Store, ep, err)
		}
		if b.MadeByClient && plan.records[b.Bucket] == nil && !plan.missing[b.Bucket] {
			// The client's word that it made the bucket lets down delete it with this server's credentials:
			// it stands only for a bucket that carries stix's mark (storage.MakeBucket).
			marked, err := bs.Marked(ctx, b.Store, b.Bucket)
			if err != nil {
				return nil, fmt.Errorf("file_mounts %s: read the tags of bucket %s: %w", b.Dest, b.URI(), err)
			}
			if !marked {
				b.MadeByClient = false
				plan.unmarked = append(plan.unmarked, b.Bucket)
			}
		}
	}
	return plan, nil
}

// makeBuckets creates the missing named buckets and uploads the local sources (only what changed), recording
// each named bucket for cluster; it runs after every check passed and before the cluster is provisioned. A
// bucket is recorded before it is created, so that one a crash leaves behind is listed and deletable.
func (m *Manager) makeBuckets(ctx context.Context, plan *bucketPlan, cluster, command string, progress api.ProgressFunc) error {
	if plan == nil {
		return nil
	}
	st, err := m.store(ctx)
	if err != nil {
		return err
	}
	tbl, err := store.BucketsOf(st)
	if err != nil {
		return err
	}
	w, err := activeWorkspace(ctx)
	if err != nil {
		return err
	}
	now := m.now()
	for _, name := range plan.unmarked {
		progress.Report(fmt.Sprintf("Note: bucket %s carries no %s tag, so stix did not create it: it is kept at down whatever `persistent:` says", name, storage.ManagedLabel))
	}
	for _, b := range plan.mounts {
		if !b.Named {
			continue
		}
		rec := plan.records[b.Bucket]
		if rec == nil {
			ep, region := plan.bs.Endpoint(b.Store)
			rec = &store.Storage{Name: b.Bucket, Store: b.Store, Endpoint: ep, Region: region, User: m.UserOf(ctx),
				Workspace: w.name, LaunchedAt: now, Status: store.StorageReady, Managed: b.MadeByClient}
		}
		created := plan.missing[b.Bucket]
		if created {
			rec.Managed, rec.Status = true, store.StorageInit
		}
		switch {
		case rec.Managed && rec.User == m.UserOf(ctx):
			rec.Persistent = b.Persistent // its owner's latest task says whether a bucket stix made outlives its cluster
		case !rec.Managed:
			rec.Persistent = true // never deleted
		} // another user's bucket: its owner's setting stands
		rec.Sources, rec.Cluster, rec.Command, rec.UpdatedAt = b.Local, cluster, command, now
		if b.Shown != nil {
			rec.Sources = b.Shown
		}
		if err := tbl.Put(ctx, rec); err != nil {
			return err
		}
		plan.records[b.Bucket] = rec
		if created {
			progress.Report(fmt.Sprintf("Creating bucket %s", b.URI()))
			if err := plan.bs.Create(ctx, b.Store, b.Bucket); err != nil {
				_ = tbl.Delete(context.WithoutCancel(ctx), b.Bucket)
				return fmt.Errorf("file_mounts %s: create bucket %s: %w", b.Dest, b.URI(), err)
			}
			delete(plan.missing, b.Bucket)
		}
		if len(b.Local) == 0 {
			if err := tbl.SetStatus(ctx, b.Bucket, store.StorageReady, m.now()); err != nil {
				return err
			}
			continue
		}
		if err := tbl.SetStatus(ctx, b.Bucket, store.StorageUploading, m.now()); err != nil {
			return err
		}
		sent, err := plan.bs.Upload(ctx, b.Store, b.Bucket, b.Prefix, b.Local)
		if err != nil {
			_ = tbl.SetStatus(context.WithoutCancel(ctx), b.Bucket, store.StorageUploadFailed, m.now())
			return fmt.Errorf("file_mounts %s: upload to %s: %w (the next launch uploads what is missing)", b.Dest, b.URI(), err)
		}
		progress.Report(fmt.Sprintf("Uploaded %d changed file(s) to %s", sent, b.URI()))
		if err := tbl.SetStatus(ctx, b.Bucket, store.StorageReady, m.now()); err != nil {
			return err
		}
	}
	return nil
}

// dropBuckets deletes the buckets stix made for cluster with `persistent: false`, and their records, once the
// cluster's nodes are gone. Buckets stix did not make are never deleted.
func (m *Manager) dropBuckets(ctx context.Context, st store.Store, cluster string) error {
	tbl, err := store.BucketsOf(st)
	if err != nil {
		return err
	}
	recs, err := tbl.OfCluster(ctx, cluster)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range recs {
		if !r.Managed || r.Persistent {
			continue
		}
		if err := m.deleteBucket(ctx, tbl, r); err != nil {
			errs = append(errs, fmt.Errorf("cluster %q is down, but its bucket %s://%s (persistent: false) could not be deleted: %w: delete it with `stix storage delete %s`",
				cluster, storeScheme(r.Store), r.Name, err, r.Name))
		}
	}
	return errors.Join(errs...)
}

// deleteBucket deletes a bucket stix made and then its record; a bucket already gone is no error.
func (m *Manager) deleteBucket(ctx context.Context, tbl *store.Buckets, r *store.Storage) error {
	if r.Managed {
		bs, err := m.bucketsFor(ctx)
		if err != nil {
			return err
		}
		_ = tbl.SetStatus(ctx, r.Name, store.StorageDeleting, m.now())
		if err := bs.Delete(ctx, r.Store, r.Endpoint, r.Name); err != nil && !errors.Is(err, ErrNoBucket) {
			return err
		}
	}
	return tbl.Delete(ctx, r.Name)
}

// StorageList lists the buckets recorded: the caller's, or every user's for an admin or a caller in process.
func (m *Manager) StorageList(ctx context.Context) ([]api.Storage, error) {
	st, err := m.store(ctx)
	if err != nil {
		return nil, err
	}
	tbl, err := store.BucketsOf(st)
	if err != nil {
		return nil, err
	}
	recs, err := tbl.List(ctx)
	if err != nil {
		return nil, err
	}
	out := []api.Storage{}
	for _, r := range recs {
		if mayUseStorage(ctx, r) == nil {
			out = append(out, toAPIStorage(r))
		}
	}
	return out, nil
}

// mayUseStorage answers an error unless the caller is unidentified (in process), an admin, or the bucket's
// owner.
func mayUseStorage(ctx context.Context, r *store.Storage) error {
	id, ok := auth.From(ctx)
	if !ok || id.IsAdmin() || id.Name == r.User {
		return nil
	}
	return fmt.Errorf("storage %q belongs to user %q: only they or an admin may delete it", r.Name, r.User)
}

func toAPIStorage(r *store.Storage) api.Storage {
	return api.Storage{Name: r.Name, Store: r.Store, Sources: r.Sources, Endpoint: r.Endpoint, Region: r.Region,
		Managed: r.Managed, Persistent: r.Persistent, User: r.User, Workspace: r.Workspace, Cluster: r.Cluster,
		Status: string(r.Status), LaunchedAt: r.LaunchedAt, UpdatedAt: r.UpdatedAt, Command: r.Command}
}

// StorageDelete deletes the buckets named (or, with All, every bucket the caller may see): a bucket stix made is
// deleted with its objects, one it did not make only loses its record. A bucket whose cluster is still live is
// left alone: deleting it would pull the data from under that cluster's mounts and jobs.
func (m *Manager) StorageDelete(ctx context.Context, req api.StorageDeleteRequest, progress api.ProgressFunc) ([]api.StorageDeleteOutcome, error) {
	if len(req.Names) == 0 && !req.All {
		return nil, errors.New("name the storage to delete, or pass --all")
	}
	st, err := m.store(ctx)
	if err != nil {
		return nil, err
	}
	tbl, err := store.BucketsOf(st)
	if err != nil {
		return nil, err
	}
	visible, err := m.StorageList(ctx)
	if err != nil {
		return nil, err
	}
	// A glob matches the caller's buckets (perhaps none); a plain name is looked up, so that an unknown or
	// another user's name gets its own answer.
	var names []string
	for _, p := range req.Names {
		if !strings.ContainsAny(p, "*?[") {
			names = appendNew(names, p)
			continue
		}
		for _, s := range visible {
			if ok, _ := path.Match(p, s.Name); ok {
				names = appendNew(names, s.Name)
			}
		}
	}
	if req.All {
		for _, s := range visible {
			names = appendNew(names, s.Name)
		}
	}
	out := make([]api.StorageDeleteOutcome, 0, len(names))
	var errs []error
	for _, name := range names {
		o := api.StorageDeleteOutcome{Name: name}
		var err error
		if o.Deleted, err = m.deleteOne(ctx, st, tbl, name); err != nil {
			o.Error = err.Error()
			errs = append(errs, err)
		} else if o.Deleted {
			progress.Report(fmt.Sprintf("Deleted storage %s", name))
		} else {
			progress.Report(fmt.Sprintf("Removed the record of storage %s; stix did not create the bucket, so it is kept", name))
		}
		out = append(out, o)
	}
	return out, errors.Join(errs...)
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// deleteOne deletes one bucket by name, refusing an unknown name, another user's bucket and a bucket in use,
// and says whether the bucket itself was deleted (stix made it) rather than only its record.
func (m *Manager) deleteOne(ctx context.Context, st store.Store, tbl *store.Buckets, name string) (bool, error) {
	r, err := tbl.Get(ctx, name)
	if store.IsNotFound(err) {
		return false, &api.StorageNotFoundError{Name: name}
	}
	if err != nil {
		return false, err
	}
	if err := mayUseStorage(ctx, r); err != nil {
		return false, err
	}
	if r.Cluster != "" {
		if c, err := st.GetCluster(ctx, r.Cluster); err == nil {
			return false, fmt.Errorf("storage %q is used by cluster %q (%s): tear it down first with `stix down %s`", name, c.Name, c.Status, c.Name)
		}
	}
	return r.Managed, m.deleteBucket(ctx, tbl, r)
}
