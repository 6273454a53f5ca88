package stixcmd

import (
	"context"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/spec"
	"github.com/stix-run/stix/internal/upload"
)

// pushFunc uploads the local directory or file path to the API server's upload route (baseURL is its
// .../api/v1/uploads) and returns the tree's ID; ignore says to leave out what .skyignore/.gitignore say.
type pushFunc func(ctx context.Context, baseURL string, hc *http.Client, path string, ignore bool) (string, error)

// pushTree is the upload client: internal/upload's Push, leaving out what .skyignore/.gitignore say where asked
// (a workdir, a storage entry's source).
func pushTree(ctx context.Context, baseURL string, hc *http.Client, path string, ignore bool) (string, error) {
	return upload.Push(ctx, baseURL, hc, path, upload.PushOptions{Ignore: ignore})
}

// uploadServer gives the server's upload handler over its upload directory dir (default limits), and resolve, the
// path of an uploaded tree (under name, when one is given: upload.ResolveAs).
func uploadServer(dir string) (h http.Handler, resolve func(treeID, name string) (string, error)) {
	return upload.NewHandler(dir, upload.Limits{}), func(id, name string) (string, error) {
		if name != "" {
			return upload.ResolveAs(dir, id, name)
		}
		return upload.Resolve(dir, id)
	}
}

// uploadingClient is the HTTP client that uploads a task's local paths (workdir, file mount sources) before it
// launches or execs it, or starts or updates a service from it.
type uploadingClient struct {
	*api.HTTPClient
	push pushFunc
	// bucketOf, when it gives a bucket for the task and controller ("jobs", "serve"), is where that
	// controller's task's local paths go instead (config jobs.bucket, serve.bucket).
	bucketOf func(ts api.TaskSpec, controller string) (*jobsBucket, error)
}

// APIServer returns the HTTP client (cli.ServerBacked).
func (c uploadingClient) APIServer() *api.HTTPClient { return c.HTTPClient }

func (c uploadingClient) Launch(ctx context.Context, req api.LaunchRequest) (*api.Operation[api.LaunchResult], error) {
	var err error
	if req.Task, err = c.upload(ctx, req.Task, true); err != nil {
		return nil, err
	}
	return c.HTTPClient.Launch(ctx, req)
}

// Exec pushes no storage entry's sources: exec syncs plain local files only, buckets are a launch's.
func (c uploadingClient) Exec(ctx context.Context, req api.ExecRequest) (*api.Operation[api.LaunchResult], error) {
	var err error
	if req.Task, err = c.upload(ctx, req.Task, false); err != nil {
		return nil, err
	}
	return c.HTTPClient.Exec(ctx, req)
}

// ServeUp and ServeUpdate push the service's local paths as Launch does: the service keeps its versions'
// tasks, and its replicas are launched (again) from the uploaded trees while it lives.
func (c uploadingClient) ServeUp(ctx context.Context, req api.ServeUpRequest) (*api.Operation[api.ServeUpResult], error) {
	var undo func()
	var err error
	if req.Task, undo, err = c.controllerFiles(ctx, req.Task, serveController); err != nil {
		return nil, err
	}
	op, err := c.HTTPClient.ServeUp(ctx, req)
	if err != nil {
		undo()
	}
	return op, err
}

func (c uploadingClient) ServeUpdate(ctx context.Context, req api.ServeUpdateRequest) (*api.Operation[api.ServeUpdateResult], error) {
	var undo func()
	var err error
	if req.Task, undo, err = c.controllerFiles(ctx, req.Task, serveController); err != nil {
		return nil, err
	}
	op, err := c.HTTPClient.ServeUpdate(ctx, req)
	if err != nil {
		undo()
	}
	return op, err
}

func (c uploadingClient) JobsLaunch(ctx context.Context, req api.JobsLaunchRequest) (*api.Operation[api.JobsLaunchResult], error) {
	var undo func()
	var err error
	if req.Task, undo, err = c.controllerFiles(ctx, req.Task, jobsController); err != nil {
		return nil, err
	}
	op, err := c.HTTPClient.JobsLaunch(ctx, req)
	if err != nil {
		undo() // not submitted: nothing will delete the files
	}
	return op, err
}

// controllerFiles sends the local files of a task a controller keeps (a managed job's, a service's): through the
// intermediate bucket where the controller's config names one (`jobs.bucket`, `serve.bucket`: SkyPilot's keys),
// else to the API server's upload route. undo deletes what went to the buckets, for a request that was not
// accepted.
func (c uploadingClient) controllerFiles(ctx context.Context, ts api.TaskSpec, controller string) (api.TaskSpec, func(), error) {
	if c.bucketOf != nil {
		b, err := c.bucketOf(ts, controller)
		if err != nil {
			return ts, nil, err
		}
		if b != nil {
			return b.uploadToBucket(ctx, ts)
		}
	}
	ts, err := c.upload(ctx, ts, true)
	return ts, func() {}, err
}

// upload pushes the task's local paths (workdir, or --workdir; file_mounts sources, directories or single
// files; with storage, a storage entry's local sources) and records each in ts.Uploads under the path as
// written. A task that does not read is sent as it is: the server reports its errors with their positions.
func (c uploadingClient) upload(ctx context.Context, ts api.TaskSpec, storage bool) (api.TaskSpec, error) {
	paths, _ := localPaths(ts)
	if !storage {
		maps.DeleteFunc(paths, func(_ string, p localPath) bool { return p.storage })
	}
	if len(paths) == 0 {
		return ts, nil
	}
	base := c.Endpoint() + "/api/v1/uploads"
	ts.Uploads = map[string]string{}
	for written, p := range paths {
		id, err := c.push(ctx, base, c.AuthenticatedHTTP(), p.abs, p.ignore)
		if err != nil {
			return ts, err
		}
		ts.Uploads[written] = id
	}
	return ts, nil
}

type localPath struct {
	abs     string
	workdir bool
	// ignore: leave out what .skyignore/.gitignore say, as the core's own sync and upload do for a workdir
	// and for a storage entry's sources.
	ignore bool
	// storage: only a storage entry's source (where the intermediate bucket is used, the entry's own bucket
	// takes it: storageSources).
	storage bool
}

// storageSources is a storage entry (`{name, source: local paths, ...}`) whose local sources are all there: where
// the intermediate bucket is used, they go to the entry's own bucket, as SkyPilot sends them.
type storageSources struct {
	dest  string // the entry's destination, as the task writes it
	entry *spec.StorageSpec
	abs   []string
}

// localPaths returns the task's local paths to upload, keyed by the path as the task or --workdir writes it: a
// workdir that is a directory, file mount sources that are directories or regular files, and a storage
// entry's local sources; and the storage entries whose local sources are all there. Anything else (a missing
// path, a workdir that is a file) is left for the core to report.
func localPaths(ts api.TaskSpec) (map[string]localPath, []storageSources) {
	out := map[string]localPath{}
	cwd, _ := os.Getwd()
	home, _ := os.UserHomeDir()
	abs := func(written string, workdir bool) (string, bool) {
		if written == "" || written == "none" || strings.Contains(written, "://") {
			return "", false
		}
		p := written
		switch {
		case p == "~" || strings.HasPrefix(p, "~/"):
			p = filepath.Join(home, strings.TrimPrefix(p, "~"))
		case !filepath.IsAbs(p):
			p = filepath.Join(cwd, p)
		}
		st, err := os.Stat(p)
		return p, err == nil && (st.IsDir() || !workdir && st.Mode().IsRegular())
	}
	add := func(written string, lp localPath) bool {
		p, ok := abs(written, lp.workdir)
		if !ok {
			return false
		}
		lp.abs = p
		if prev, seen := out[written]; seen { // one path in two roles: pushed once, whole where either needs it
			lp.workdir, lp.ignore, lp.storage = prev.workdir || lp.workdir, prev.ignore && lp.ignore, prev.storage && lp.storage
		}
		out[written] = lp
		return true
	}
	if ts.Overrides.Workdir != nil {
		add(*ts.Overrides.Workdir, localPath{workdir: true, ignore: true})
	}
	if ts.YAML == "" && ts.FileName == "" {
		return out, nil
	}
	p, err := spec.Load(ts.FileName, []byte(ts.YAML), spec.LoadOptions{})
	if err != nil {
		return out, nil
	}
	var entries []storageSources
	for _, t := range p.Tasks { // a managed job's pipeline has several
		if t.Workdir != nil && ts.Overrides.Workdir == nil {
			add(t.Workdir.Path, localPath{workdir: true, ignore: true})
		}
		for _, m := range t.FileMounts {
			if m.Storage == nil {
				add(m.Source, localPath{})
				continue
			}
			e := storageSources{dest: m.Dest, entry: m.Storage}
			whole := m.Storage.Name != "" && len(m.Storage.Sources) > 0
			for _, src := range m.Storage.Sources {
				if !add(src, localPath{ignore: true, storage: true}) {
					whole = false
					continue
				}
				e.abs = append(e.abs, out[src].abs)
			}
			if whole {
				entries = append(entries, e)
			}
		}
	}
	return out, entries
}

// uploadsInUse is the server GC's list of the uploaded trees still needed: every list's (the managed-jobs
// controller's, the serve controller's); an error of any is the whole list's, so the GC removes nothing then.
func uploadsInUse(lists ...func(context.Context) ([]string, error)) func(context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		var out []string
		for _, l := range lists {
			ids, err := l(ctx)
			if err != nil {
				return nil, err
			}
			out = append(out, ids...)
		}
		return out, nil
	}
}
