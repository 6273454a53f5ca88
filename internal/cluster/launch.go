package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/optimizer"
	"github.com/stix-run/stix/internal/provision"
	"github.com/stix-run/stix/internal/spec"
	"github.com/stix-run/stix/internal/storage"
	"github.com/stix-run/stix/internal/store"
)

// maxEnvString is Linux's MAX_ARG_STRLEN: the most one "NAME=value" string of a process environment may
// hold, whatever the node's stack limit. A larger env fails the job's exec (E2BIG) on the node.
const maxEnvString = 32 * 4096

// remoteWorkdir is where a task's workdir lands on every node, as in SkyPilot.
const remoteWorkdir = "~/sky_workdir"

// Launch provisions the cluster named in opts (or reuses it), syncs the task's files to every node, runs setup
// and queues the task's run as a job. Two launches of the same cluster name are serialised: the second waits
// for the first and then reuses the cluster it made.
func (m *Manager) Launch(ctx context.Context, task *spec.Task, opts api.LaunchOptions) (*api.LaunchResult, error) {
	items, mounts, err := checkTask(task)
	if err != nil {
		return nil, err
	}
	// Every bucket is checked before anything is made; the buckets are made and filled before provisioning.
	buckets, err := m.checkBuckets(ctx, mounts)
	if err != nil {
		return nil, err
	}
	setup := task.Setup
	if opts.NoSetup {
		setup = ""
	}
	job, err := m.jobSpec(ctx, task, setup)
	if err != nil {
		return nil, err
	}
	name := opts.ClusterName
	if name == "" {
		name = m.generateName(ctx)
	}
	if err := validName(name); err != nil {
		return nil, err
	}
	st, err := m.store(ctx)
	if err != nil {
		return nil, err
	}
	unlock, err := st.LockCluster(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("lock cluster %q: %w", name, err)
	}
	defer unlock()

	res := &api.LaunchResult{ClusterName: name}
	var demand provision.Demand
	rec, err := st.GetCluster(ctx, name)
	if err == nil {
		// Before the buckets are made: a cluster that autodown took away (or that vanished) is forgotten with
		// its `persistent: false` buckets, which this launch then checks again and makes for the new one.
		rec, err = m.settleAutostop(ctx, st, rec)
		if store.IsNotFound(err) && len(mounts) > 0 {
			var cerr error
			if buckets, cerr = m.checkBuckets(ctx, mounts); cerr != nil {
				return nil, cerr
			}
		}
	}
	if err != nil && !store.IsNotFound(err) {
		return nil, err
	}
	if err == nil {
		if err := m.refuseAutostopOn(rec.Cloud, task, opts); err != nil {
			return nil, fmt.Errorf("launch on cluster %q: %w", name, err)
		}
	}
	if store.IsNotFound(err) {
		if err := m.refuseNoFUSE(ctx, task); err != nil {
			return nil, err
		}
	}
	if err := m.makeBuckets(ctx, buckets, name, opts.Command, opts.Progress); err != nil {
		return nil, err
	}
	switch {
	case store.IsNotFound(err):
		rec, demand, err = m.provisionNew(ctx, st, name, task, opts)
		res.Provisioned = true
	case err != nil:
	case len(rec.Handle) == 0:
		// A launch was interrupted before it recorded the nodes: plan and provision again. The providers
		// resume what they find under the cluster's name; provisionOn removes leftovers on another cloud.
		opts.Progress.Report(fmt.Sprintf("Resuming the interrupted launch of cluster %q", name))
		rec, demand, err = m.provisionNew(ctx, st, name, task, opts)
		res.Provisioned = true
	default:
		// An existing cluster runs the task as the first of its candidates that the cluster's nodes serve.
		if demand, err = pick(task, rec); err != nil {
			return nil, fmt.Errorf("cannot run the task on existing cluster %q: %w: launch it on a new cluster with -c NAME, or change the task's resources", name, err)
		}
		if rec.Status != store.StatusUp {
			opts.Progress.Report(fmt.Sprintf("Restarting cluster %q (%s)", name, rec.Status))
			rec, err = m.restart(ctx, st, rec, opts.Progress)
			res.Provisioned = true
		} else {
			opts.Progress.Report(fmt.Sprintf("Reusing cluster %q", name))
			if opts.Fast { // --fast: an UP cluster skips setup
				setup, job.Setup = "", ""
			}
		}
	}
	if err != nil {
		if _, gerr := st.GetCluster(ctx, name); store.IsNotFound(gerr) {
			// No cluster came of it: the `persistent: false` buckets this launch made go too.
			if derr := m.dropBuckets(context.WithoutCancel(ctx), st, name); derr != nil {
				err = errors.Join(err, derr)
			}
		}
		return nil, err
	}
	rec.LastUse = store.LastUse{At: m.now(), Command: opts.Command}
	if err := st.PutCluster(ctx, rec); err != nil {
		return nil, err
	}
	if err := m.syncFiles(ctx, rec, items, opts.Progress); err != nil {
		return nil, err
	}
	if err := m.mountBuckets(ctx, st, rec, buckets, opts.Progress); err != nil {
		return nil, err
	}
	if task.Run != "" || setup != "" {
		if res.JobID, err = m.submit(ctx, rec, withDemand(job, demand), opts.Progress); err != nil {
			return res, err
		}
	}
	// Last, as in SkyPilot: set before the job was queued, a short autostop could stop the cluster under it.
	return res, m.applyAutostop(ctx, st, rec, task, opts)
}

// Exec queues a task's run on an UP cluster: no provisioning and no setup, the workdir synced again.
func (m *Manager) Exec(ctx context.Context, name string, task *spec.Task, opts api.ExecOptions) (*api.LaunchResult, error) {
	// Buckets are made and mounted by launch; exec, as in SkyPilot, syncs only local files.
	items, _, err := checkTask(task)
	if err != nil {
		return nil, err
	}
	job, err := m.jobSpec(ctx, task, "")
	if err != nil {
		return nil, err
	}
	rec, err := m.record(ctx, name)
	if err != nil {
		return nil, err
	}
	if rec.Status != store.StatusUp {
		return nil, &NotUpError{Name: name, Status: rec.Status}
	}
	demand, err := pick(task, rec)
	if err != nil {
		return nil, fmt.Errorf("cannot run the task on cluster %q: %w", name, err)
	}
	if err := m.syncFiles(ctx, rec, items, opts.Progress); err != nil {
		return nil, err
	}
	id, err := m.submit(ctx, rec, withDemand(job, demand), opts.Progress)
	if err != nil {
		return nil, err
	}
	if st, err := m.store(ctx); err == nil {
		rec.LastUse = store.LastUse{At: m.now(), Command: opts.Command}
		_ = st.PutCluster(ctx, rec) // the last-use column is cosmetic: a failure here must not fail the job
	}
	return &api.LaunchResult{ClusterName: name, JobID: id}, nil
}

// checkTask refuses a task that cannot start — a required env or secret left unset, a workdir that is not
// there, a file mount stix cannot copy, a bad bucket file mount, two mounts onto one destination — and returns
// what syncFiles copies to the nodes (the workdir, then the local file mounts) and the bucket file mounts.
func checkTask(t *spec.Task) ([]syncItem, []bucketMount, error) {
	if missing := t.MissingEnvs(); len(missing) > 0 {
		return nil, nil, fmt.Errorf("the task needs env %s: pass it with --env %s=VALUE (or --env-file)", strings.Join(missing, ", "), missing[0])
	}
	if missing := t.MissingSecrets(); len(missing) > 0 {
		return nil, nil, fmt.Errorf("the task needs secret %s: pass it with --secret %s=VALUE", strings.Join(missing, ", "), missing[0])
	}
	items, err := localItems(t)
	if err != nil {
		return nil, nil, err
	}
	buckets, err := storageMounts(t)
	if err != nil {
		return nil, nil, err
	}
	if err := checkDestinations(t, buckets); err != nil {
		return nil, nil, err
	}
	return items, buckets, nil
}

// localItems is checkTask's part for local files: the workdir and the local file mounts.
func localItems(t *spec.Task) ([]syncItem, error) {
	var items []syncItem
	if t.Workdir != nil && t.Workdir.Path != "" {
		p, err := expandHome(t.Workdir.Path)
		if err != nil {
			return nil, err
		}
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("workdir %s: %w: fix `workdir:` or --workdir", t.Workdir.Path, errors.Unwrap(err))
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("workdir %s is not a directory: fix `workdir:` or --workdir", t.Workdir.Path)
		}
		items = append(items, syncItem{src: p, dst: remoteWorkdir})
	}
	if t.Workdir != nil && t.Workdir.URL != "" {
		items = append(items, syncItem{git: newGitSource(t), dst: remoteWorkdir})
	}
	mounts, err := localMounts(t)
	if err != nil {
		return nil, err
	}
	return append(items, mounts...), nil
}

// syncItem is one local tree or file copied to every node, or a git repository every node clones.
type syncItem struct {
	src, dst string
	git      *gitSource
}

// localMounts resolves the task's local file_mounts to local sources, refusing what stix cannot copy: a
// source that is missing or unreadable, or one that is neither a file nor a directory (a pipe or a device would
// never end). checkTask runs it before anything is provisioned, and syncFiles copies its result.
func localMounts(t *spec.Task) ([]syncItem, error) {
	var items []syncItem
	for _, fm := range t.FileMounts {
		if fm.Storage != nil || isBucketURI(fm.Source) {
			continue // a bucket: storageMounts
		}
		src, err := expandHome(fm.Source)
		if err != nil {
			return nil, err
		}
		if err := readableSource(src); err != nil {
			return nil, fmt.Errorf("file_mounts %s: source %s: %w: fix `file_mounts:` in the task", fm.Dest, fm.Source, err)
		}
		items = append(items, syncItem{src: src, dst: fm.Dest})
	}
	return items, nil
}

// readableSource checks that p is a regular file or a directory that this process can open.
func readableSource(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return errors.Unwrap(err)
	}
	if !fi.Mode().IsRegular() && !fi.IsDir() {
		return fmt.Errorf("is a %s, not a file or directory", fileKind(fi.Mode()))
	}
	f, err := os.Open(p)
	if err != nil {
		return errors.Unwrap(err)
	}
	return f.Close()
}

func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// validName checks a cluster name as SkyPilot does: a letter first, then letters, digits, '-', '_' and '.'.
func validName(name string) error {
	ok := len(name) > 0 && len(name) <= 63
	for i, r := range name {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if i == 0 && !letter || !(letter || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("invalid cluster name %q: use up to 63 letters, digits, '-', '_' or '.', starting with a letter", name)
	}
	return nil
}

// avoidScopes turns LaunchOptions.AvoidInfra ("cloud" or "cloud/region") into the scopes the failover loop
// starts with blocked.
func avoidScopes(infra []string) []cloud.Scope {
	var out []cloud.Scope
	for _, s := range infra {
		c, region, _ := strings.Cut(strings.ToLower(s), "/")
		if c == "" {
			continue
		}
		if region == "" {
			out = append(out, cloud.Scope{Level: cloud.LevelCloud, Cloud: c})
			continue
		}
		out = append(out, cloud.Scope{Level: cloud.LevelRegion, Cloud: c, Region: region})
	}
	return out
}

// provisionNew plans the task, and provisions where the plan says, failing over to the next best place on a
// typed infrastructure error (internal/provision). Each attempt is recorded as INIT first, with its assignment; a
// failed attempt is cleaned up, and when that fails too its INIT record stays, so that `stix status` shows it
// and `stix down` removes it. It returns the cluster and what a job of the task takes of each of its nodes.
func (m *Manager) provisionNew(ctx context.Context, st store.Store, name string, task *spec.Task, opts api.LaunchOptions) (*store.Cluster, provision.Demand, error) {
	v, err := m.view(ctx, task)
	if err != nil {
		return nil, provision.Demand{}, err
	}
	ot := v.task(task)
	avoid := avoidScopes(opts.AvoidInfra)
	fuse := needsFUSE(task)
	var rec *store.Cluster
	loop := provision.Loop{
		Plan: func(blocked []cloud.Scope) (provision.Assignment, error) {
			plan, _, err := optimizer.Optimize(v.problem(ot, append(slices.Clone(avoid), blocked...)))
			if err != nil {
				return provision.Assignment{}, err
			}
			a := assign(ot, plan.Tasks[0])
			a.Requirements.FUSE = fuse
			return a, nil
		},
		Provision: func(ctx context.Context, a provision.Assignment) (*cloud.ClusterInfo, error) {
			if err := m.refuseAutostopOn(a.Offer.Cloud, task, opts); err != nil {
				return nil, err
			}
			var ci *cloud.ClusterInfo
			rec, ci, err = m.provisionOn(ctx, st, name, a, opts.Progress)
			return ci, err
		},
		RetryUntilUp: opts.RetryUntilUp,
		Progress:     opts.Progress,
	}
	ci, a, _, err := loop.Run(ctx)
	if err != nil {
		return nil, provision.Demand{}, fmt.Errorf("launch %q: %w", name, err)
	}
	if err := m.adopt(ctx, st, rec, ci, opts.FailFastOnNodeLoss); err != nil {
		return nil, provision.Demand{}, err
	}
	opts.Progress.Report(fmt.Sprintf("Cluster launched: %s", name))
	return rec, a.Demand, nil
}

// provisionOn makes one attempt: an INIT record that keeps the assignment, then the offer's provider. A cloud
// stix has no provider for yet fails with a cloud-scoped error, so the loop moves to another cloud.
func (m *Manager) provisionOn(ctx context.Context, st store.Store, name string, a provision.Assignment, progress api.ProgressFunc) (*store.Cluster, *cloud.ClusterInfo, error) {
	offer, req := a.Offer, a.Requirements
	p, err := m.registry.Lookup(offer.Cloud)
	if err != nil {
		return nil, nil, &cloud.InvalidConfigError{Place: cloud.Place{Cloud: offer.Cloud},
			Reason: "stix cannot provision on " + catalog.DisplayName(offer.Cloud) + " yet"}
	}
	if nf, ok := p.(cloud.NoFUSE); ok && req.FUSE {
		return nil, nil, &cloud.InvalidConfigError{Place: cloud.Place{Cloud: offer.Cloud},
			Reason: catalog.DisplayName(p.Name()) + " nodes cannot mount buckets (" + nf.NoFUSE() + "): use `mode: COPY` there"}
	}
	if err := m.removeLeftovers(ctx, st, name, p.Name()); err != nil {
		return nil, nil, err
	}
	plan, err := json.Marshal(a)
	if err != nil {
		return nil, nil, fmt.Errorf("record the plan of %q: %w", name, err)
	}
	// The workspace was checked when planning (newAllowance); the cluster belongs to it from now on.
	w, err := activeWorkspace(ctx)
	if err != nil {
		return nil, nil, err
	}
	rec := &store.Cluster{
		Name: name, Status: store.StatusInit, Cloud: p.Name(), Region: offer.Region, Zone: offer.Zone,
		NumNodes: req.NumNodes, Resources: storeResources(offer, req.DiskSizeGB),
		HourlyPrice: offer.HourlyPrice, LaunchedAt: m.now(), User: m.UserOf(ctx), Workspace: w.name,
		Autostop:   store.Autostop{IdleMinutes: store.AutostopOff},
		Assignment: plan,
	}
	if err := st.PutCluster(ctx, rec); err != nil {
		return nil, nil, err
	}
	crashPoint(crashInitRecorded)
	progress.Report(fmt.Sprintf("Launching on %s", catalog.PlaceName(p.Name(), offer.Region, offer.Zone)))
	ci, err := p.Provision(ctx, cloud.ProvisionRequest{
		Cluster: cloud.ClusterRef{Name: name}, Offer: offer, Requirements: req, Progress: progress.Report,
	})
	if err != nil {
		if terr := p.Terminate(context.WithoutCancel(ctx), cloud.ClusterRef{Name: name}); terr == nil {
			_ = st.DeleteCluster(context.WithoutCancel(ctx), name, m.now())
		}
		return nil, nil, fmt.Errorf("%s: %w", p.Name(), err)
	}
	crashPoint(crashNodesStarted)
	return rec, ci, nil
}

// removeLeftovers terminates what an earlier attempt to launch name (an interrupted launch, or a failed attempt
// of this one) left on another provider than the one about to be used (its record names the cloud), so that
// nothing keeps running unrecorded.
func (m *Manager) removeLeftovers(ctx context.Context, st store.Store, name, provider string) error {
	old, err := st.GetCluster(ctx, name)
	if store.IsNotFound(err) || err == nil && (old.Cloud == provider || len(old.Handle) > 0) {
		return nil
	}
	if err != nil {
		return err
	}
	p, err := m.provider(old)
	if err == nil {
		err = p.Terminate(ctx, cloud.ClusterRef{Name: name})
	}
	if err != nil {
		return fmt.Errorf("remove what an earlier attempt to launch %q left on %s: %w (remove it with `stix down %s`)", name, old.Cloud, err, name)
	}
	return nil
}

// adopt configures the head agent of a freshly provisioned or restarted cluster, then records its nodes and
// UP in one write: a record with nodes is a cluster whose head was configured, so a launch killed before this
// write leaves a record without nodes, which status keeps INIT and the next launch resumes. failFast is
// LaunchOptions.FailFastOnNodeLoss, passed on to the head.
func (m *Manager) adopt(ctx context.Context, st store.Store, rec *store.Cluster, ci *cloud.ClusterInfo, failFast bool) error {
	handle, err := json.Marshal(ci)
	if err != nil {
		return err
	}
	c, closeFn, err := m.headOf(ctx, rec, ci)
	if err != nil {
		return err
	}
	defer closeFn()
	cfg := m.clusterConfig(rec, ci)
	cfg.FailFastOnNodeLoss = failFast
	if err := c.Configure(ctx, cfg); err != nil {
		return fmt.Errorf("configure the head agent of %q: %w", rec.Name, err)
	}
	crashPoint(crashConfigured)
	rec.Handle = handle
	rec.Region, rec.Zone = ci.Region, ci.Zone
	if h, ok := ci.Head(); ok {
		rec.Resources.CPUs, rec.Resources.MemoryGB = h.Resources.CPUs, h.Resources.MemoryGB
		if len(h.Resources.Accelerators) > 0 {
			rec.Resources.Accelerators = h.Resources.Accelerators
		}
	}
	rec.Status = store.StatusUp
	rec.StatusUpdatedAt = m.now()
	return st.PutCluster(ctx, rec)
}

func (m *Manager) clusterConfig(rec *store.Cluster, ci *cloud.ClusterInfo) agent.ClusterConfig {
	cfg := agent.ClusterConfig{
		ClusterName: rec.Name, Cloud: catalog.DisplayName(ci.Cloud), Region: ci.Region, Zone: ci.Zone, User: rec.User,
		Autostop: m.autostopConfig(rec),
	}
	for _, n := range ci.Nodes {
		cfg.Nodes = append(cfg.Nodes, agent.Node{Rank: n.Rank, IP: n.InternalIP, AgentAddr: n.AgentAddr})
	}
	return cfg
}

// restart brings a STOPPED (or INIT) cluster back on the same nodes.
func (m *Manager) restart(ctx context.Context, st store.Store, rec *store.Cluster, progress api.ProgressFunc) (*store.Cluster, error) {
	p, err := m.provider(rec)
	if err != nil {
		return nil, err
	}
	ref := cloud.ClusterRef{Name: rec.Name}
	if ci, err := info(rec); err == nil {
		ref.Handle = ci.Handle
	}
	sp, ok := p.(cloud.Stopper)
	if !ok {
		return nil, stopUnsupported(rec)
	}
	ci, err := sp.Start(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("start %q: %w", rec.Name, err)
	}
	// A restart is a launch, whether `stix start` or `stix launch` asked for it: LAUNCHED shows it. adopt's
	// one write records it with the nodes.
	rec.LaunchedAt = m.now()
	// A restarted cluster is one someone restarts: its head waits for dead agents to come back.
	if err := m.adopt(ctx, st, rec, ci, false); err != nil {
		return nil, err
	}
	if err := m.remount(ctx, st, rec, progress); err != nil {
		return nil, err
	}
	progress.Report(fmt.Sprintf("Cluster %q is UP", rec.Name))
	return rec, nil
}

// jobSpec is the job the head agent gets for task, but for its demand (withDemand), which depends on the
// cluster it runs on. It is made before anything is provisioned, so that a job the agent would refuse as too
// large (api.MaxTaskBytes, measured as sent) fails first.
func (m *Manager) jobSpec(ctx context.Context, task *spec.Task, setup string) (agent.JobSpec, error) {
	workdir := ""
	if task.Workdir != nil {
		workdir = "sky_workdir"
	}
	job := agent.JobSpec{
		Name: task.Name, User: m.UserOf(ctx), NumNodes: task.NumNodes,
		Setup: setup, Run: task.Run, Envs: task.Envs, Secrets: task.Secrets, Workdir: workdir,
	}
	for _, set := range []map[string]string{task.Envs, task.Secrets} {
		for k, v := range set {
			if n := len(k) + len(v) + 2; n > maxEnvString {
				return job, fmt.Errorf("env %s is %d KiB: a Linux process takes at most %d KiB per environment "+
					"variable (MAX_ARG_STRLEN), so the job could not start: put the value in a file (file_mounts)",
					k, n>>10, maxEnvString>>10)
			}
		}
	}
	body, err := json.Marshal(job)
	if err != nil {
		return job, err
	}
	if len(body) > api.MaxTaskBytes {
		return job, &api.TooLargeError{What: "the job (its run, setup, envs and secrets)", Size: int64(len(body))}
	}
	return job, nil
}

// submit queues a job on the cluster's head agent and returns its id.
func (m *Manager) submit(ctx context.Context, rec *store.Cluster, job agent.JobSpec, progress api.ProgressFunc) (int, error) {
	c, closeFn, err := m.head(ctx, rec)
	if err != nil {
		return 0, err
	}
	defer closeFn()
	id, err := c.Submit(ctx, job)
	if err != nil {
		return 0, fmt.Errorf("submit the job to %q: %w", rec.Name, err)
	}
	progress.Report(fmt.Sprintf("Job submitted, ID: %d", id))
	return int(id), nil
}

// syncFiles copies the task's workdir and local file mounts to every node, in parallel.
func (m *Manager) syncFiles(ctx context.Context, rec *store.Cluster, items []syncItem, progress api.ProgressFunc) error {
	if len(items) == 0 {
		return nil
	}
	progress.Report("Syncing files")
	ci, err := info(rec)
	if err != nil {
		return err
	}
	p, err := m.provider(rec)
	if err != nil {
		return err
	}
	return cloud.EachNode(ctx, len(ci.Nodes), func(ctx context.Context, rank int) error {
		tr, err := p.Transport(ctx, ci, rank)
		if err != nil {
			return err
		}
		defer tr.Close()
		for _, it := range items {
			if it.git != nil {
				if err := it.git.clone(ctx, tr, it.dst); err != nil {
					return fmt.Errorf("workdir on node %d: %w", rank, err)
				}
				continue
			}
			opts := transportSyncOptions(it.dst == remoteWorkdir)
			if _, err := tr.Sync(ctx, it.src, it.dst, opts); err != nil {
				return fmt.Errorf("sync %s to node %d: %w", it.src, rank, err)
			}
		}
		return nil
	})
}

// isBucketURI tells a bucket URI (supported or not) from a local path.
func isBucketURI(s string) bool { return storage.IsURI(s) }

func expandHome(p string) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("expand %s: %w", p, err)
		}
		return filepath.Join(home, strings.TrimPrefix(p, "~")), nil
	}
	return filepath.Abs(p)
}
