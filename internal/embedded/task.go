package embedded

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/config"
	"github.com/stix-run/stix/internal/policy"
	"github.com/stix-run/stix/internal/spec"
)

// Validate reads a task as Launch, Exec and Plan do and reports what it found.
func (c *Client) Validate(_ context.Context, ts api.TaskSpec) (*api.TaskCheck, error) {
	r := c.read(ts)
	return r.check, nil
}

// Plan shows where a task would run.
func (c *Client) Plan(ctx context.Context, ts api.TaskSpec) (*api.Plan, error) {
	task, ctx, err := c.task(ctx, ts)
	if err != nil {
		return nil, err
	}
	m, err := c.manager()
	if err != nil {
		return nil, err
	}
	if task, ctx, err = c.admit(ctx, m, task, policy.RequestLaunch, policy.Options{DryRun: true}, nil); err != nil {
		return nil, err
	}
	return m.Plan(ctx, task)
}

// Launch provisions or reuses a cluster and queues the task on it; its steps are the operation's events.
func (c *Client) Launch(ctx context.Context, req api.LaunchRequest) (*api.Operation[api.LaunchResult], error) {
	task, ctx, err := c.task(ctx, req.Task)
	if err != nil {
		return nil, err
	}
	m, err := c.manager()
	if err != nil {
		return nil, err
	}
	ro := policy.Options{ClusterName: &req.Options.ClusterName}
	if task, ctx, err = c.admit(ctx, m, task, policy.RequestLaunch, ro, &req.Options); err != nil {
		return nil, err
	}
	return api.Go(ctx, "", func(ctx context.Context, emit func(api.Event)) (api.LaunchResult, error) {
		opts := req.Options
		opts.Progress = progress(emit)
		return result(m.Launch(ctx, task, opts))
	}), nil
}

// Exec queues the task on an UP cluster; its steps are the operation's events.
func (c *Client) Exec(ctx context.Context, req api.ExecRequest) (*api.Operation[api.LaunchResult], error) {
	task, ctx, err := c.task(ctx, req.Task)
	if err != nil {
		return nil, err
	}
	m, err := c.manager()
	if err != nil {
		return nil, err
	}
	if task, ctx, err = c.admit(ctx, m, task, policy.RequestExec, policy.Options{ClusterName: &req.Cluster}, nil); err != nil {
		return nil, err
	}
	return api.Go(ctx, "", func(ctx context.Context, emit func(api.Event)) (api.LaunchResult, error) {
		opts := req.Options
		opts.Progress = progress(emit)
		return result(m.Exec(ctx, req.Cluster, task, opts))
	}), nil
}

func result(r *api.LaunchResult, err error) (api.LaunchResult, error) {
	if err != nil {
		return api.LaunchResult{}, err
	}
	return *r, nil
}

// task reads the one task of ts and returns it with ctx carrying the request's config (when ts asks for the
// config layers), or the first problem found.
func (c *Client) task(ctx context.Context, ts api.TaskSpec) (*spec.Task, context.Context, error) {
	ts.Pipeline = false
	r := c.read(ts)
	if err := r.check.Err(); err != nil {
		return nil, ctx, err
	}
	if err := r.check.ConfigErr(); err != nil {
		return nil, ctx, err
	}
	if err := c.resolvePaths(r.tasks[0], ts); err != nil {
		return nil, ctx, err
	}
	if r.cfg != nil {
		// The core reads the config of this request from its context, as SkyPilot scopes a request's overrides.
		ctx = config.NewContext(ctx, r.cfg)
	}
	return r.tasks[0], ctx, nil
}

// reading is what read found: the tasks, the check to report and the config, when asked for and valid.
type reading struct {
	tasks []*spec.Task
	check *api.TaskCheck
	cfg   *config.Config
}

// read parses ts: its YAML (or inline command), then --env and --secret (which win over the YAML's), then the
// overrides, then the config layers. A problem found stops before the next stage.
func (c *Client) read(ts api.TaskSpec) reading {
	r := reading{check: &api.TaskCheck{}}
	if ts.YAML != "" || ts.FileName != "" {
		p, err := spec.Load(ts.FileName, []byte(ts.YAML), spec.LoadOptions{Env: ts.Env, Secrets: ts.Secrets})
		r.tasks = p.Tasks
		r.check.Tasks = len(p.Tasks)
		if ts.Pipeline {
			// Validate alone: every problem at once, each task's config: checked as launch checks it.
			var errs spec.ErrorList
			errors.As(err, &errs)
			for _, t := range p.Tasks {
				if n := t.ConfigNode(); n.Kind() == spec.NodeMap {
					errs = append(errs, config.CheckTask(ts.FileName, n)...)
				}
			}
			r.check.Errors = taskErrors(spec.SortErrors(errs))
			r.check.Notices = notices(p.Notices)
			return r
		}
		if err != nil { // launch and exec report a task that cannot be read, and nothing else
			r.check.Errors = taskErrors(err)
			return r
		}
		if len(p.Tasks) != 1 {
			msg := fmt.Sprintf("%s is a pipeline of %d tasks: run it with `stix jobs launch %s`", ts.FileName, len(p.Tasks), ts.FileName)
			r.check.Errors = []api.TaskError{{File: ts.FileName, Message: msg, Text: msg}}
			return r
		}
		r.check.Notices = notices(p.Notices)
	} else {
		t := spec.FromCommand(ts.Command)
		if len(ts.Env) > 0 {
			t.Envs = maps.Clone(ts.Env)
		}
		if len(ts.Secrets) > 0 {
			t.Secrets = maps.Clone(ts.Secrets)
		}
		r.tasks = []*spec.Task{t}
		r.check.Tasks = 1
	}
	if err := r.tasks[0].ApplyOverrides(ts.Overrides); err != nil {
		r.check.Errors = taskErrors(err)
		r.check.Notices = nil
		return r
	}
	if ts.Git != nil {
		r.tasks[0].AddGitSecrets(ts.Git.Token, ts.Git.SSHKey)
	}
	if ts.Config == nil {
		return r
	}
	if c.opts.Remote && (ts.Config.Dir != "" || len(ts.Config.Args) > 0) {
		// A path would be read on the server's disk, not the client's.
		msg := "the config layers name paths on the client's machine (config.dir, config.args), which the API server cannot read"
		r.check.ConfigErrors = []api.TaskError{{Path: "config", Message: msg,
			Hint: "send their content instead (config.project, config.layers), as api.HTTPClient does", Text: msg}}
		return r
	}
	in := config.Inputs{StixHome: c.opts.Core.Home, Home: c.opts.UserHome, Cwd: ts.Config.Dir, Getenv: c.opts.Getenv,
		CLI: ts.Config.Args, Client: api.ConfigLayers{Project: ts.Config.Project, Layers: ts.Config.Layers},
		TaskFile: ts.FileName, TaskConfig: r.tasks[0].ConfigNode(), Remote: c.opts.Remote}
	cfg, err := config.Load(in)
	if err != nil {
		r.check.ConfigErrors = taskErrors(err)
		return r
	}
	for _, w := range cfg.Warnings() {
		r.check.Warnings = append(r.check.Warnings, w.String())
	}
	r.cfg = cfg
	return r
}

// taskErrors turns a reader's error into wire errors: one per problem of an ErrorList, with its position.
func taskErrors(err error) []api.TaskError {
	if err == nil {
		return nil
	}
	var list spec.ErrorList
	if !errors.As(err, &list) {
		return []api.TaskError{{Message: err.Error(), Text: err.Error()}}
	}
	if len(list) == 0 {
		return nil
	}
	out := make([]api.TaskError, len(list))
	for i, e := range list {
		out[i] = api.TaskError{File: e.Pos.File, Line: e.Pos.Line, Col: e.Pos.Col, Path: e.Path, Message: e.Message,
			Hint: e.Hint, Text: e.Error()}
	}
	return out
}

func notices(ns []spec.Notice) []api.TaskNotice {
	if len(ns) == 0 {
		return nil
	}
	out := make([]api.TaskNotice, len(ns))
	for i, n := range ns {
		out[i] = api.TaskNotice{File: n.Pos.File, Line: n.Pos.Line, Col: n.Pos.Col, Path: n.Path, Kind: string(n.Kind),
			Message: n.Message, Text: n.String()}
	}
	return out
}

// resolvePaths points the task's local paths (workdir, file_mounts sources, a storage entry's local sources)
// where the core finds them when the client is elsewhere (an API server's client): a path the client uploaded
// (ts.Uploads) becomes the uploaded tree's path; a relative one is made absolute against ts.Dir, the client's
// working directory. Bucket URIs and ~ paths stay as they are.
func (c *Client) resolvePaths(t *spec.Task, ts api.TaskSpec) error {
	var err error
	// name: the base name the path must keep, for one of a storage entry's several sources (each is stored
	// under its own name in the bucket).
	resolve := func(p, name string) string {
		if id, ok := ts.Uploads[p]; ok && p != "" {
			if c.opts.ResolveUpload == nil {
				err = fmt.Errorf("the task names an uploaded tree for %s, but this core takes no uploads", p)
				return p
			}
			dir, rerr := c.opts.ResolveUpload(id, name)
			if rerr != nil {
				err = fmt.Errorf("%s (uploaded as %s): %w", p, id, rerr)
				return p
			}
			return dir
		}
		if ts.Dir == "" || p == "" || filepath.IsAbs(p) || p == "~" || strings.HasPrefix(p, "~/") || strings.Contains(p, "://") {
			return p
		}
		return filepath.Join(ts.Dir, p)
	}
	// A path the client put in the intermediate bucket (config `jobs.bucket`, docs/storage.md) is copied from
	// there onto the nodes: a file mount's source becomes the bucket URI (COPY), and the workdir a COPY of it
	// onto ~/sky_workdir, where the job still starts.
	inBucket := func(p string) (string, bool) {
		u, ok := ts.Uploads[p]
		return u, ok && p != "" && strings.Contains(u, "://")
	}
	if t.Workdir != nil {
		if u, ok := inBucket(t.Workdir.Path); ok {
			t.Workdir = &spec.Workdir{}
			t.FileMounts = append(t.FileMounts, spec.FileMount{Dest: RemoteWorkdir, Source: u})
		} else {
			t.Workdir.Path = resolve(t.Workdir.Path, "")
		}
	}
	for i := range t.FileMounts {
		fm := &t.FileMounts[i]
		if s := fm.Storage; s != nil {
			for _, src := range s.Sources {
				if ts.Dir != "" && !strings.Contains(src, "://") {
					s.ClientSources = append(s.ClientSources, clientPath(ts.Dir, src))
				}
			}
			if in, ok := ts.InBucket[fm.Dest]; ok {
				// The client uploaded the local sources to the entry's own bucket: it is used as it is.
				s.Sources = slices.DeleteFunc(s.Sources, func(src string) bool { return !strings.Contains(src, "://") })
				s.MadeByClient = in.Created
				continue
			}
			local := 0
			for _, src := range s.Sources {
				if !strings.Contains(src, "://") {
					local++
				}
			}
			for j, src := range s.Sources {
				name := ""
				if local > 1 { // as the client named it: "." is the client's directory
					name = filepath.Base(clientPath(ts.Dir, src))
				}
				s.Sources[j] = resolve(src, name)
			}
			continue
		}
		if u, ok := inBucket(fm.Source); ok {
			fm.Source = u
			continue
		}
		fm.Source = resolve(fm.Source, "")
	}
	return err
}

// clientPath is the local path p as the client at dir has it: relative paths joined to dir; absolute and ~ paths
// as written, cleaned.
func clientPath(dir, p string) string {
	if filepath.IsAbs(p) || p == "~" || strings.HasPrefix(p, "~/") {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

// RemoteWorkdir is where a task's workdir lands on the nodes (cluster's remoteWorkdir, as in SkyPilot).
const RemoteWorkdir = "~/sky_workdir"
