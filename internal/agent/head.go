package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stix-run/stix/internal/agent/tail"
	"github.com/stix-run/stix/internal/sqlitedb"
)

// procAPI is one node's process control, in-process for the head's own node and over HTTP for the others.
type procAPI interface {
	StartProc(ctx context.Context, spec ProcSpec) (ProcStatus, error)
	Proc(ctx context.Context, id string, wait bool) (ProcStatus, error)
	SignalProc(ctx context.Context, id, sig string) error
	ProcOutput(ctx context.Context, id string, offset int64, follow bool, w io.Writer) (int64, error)
	ReleaseProc(ctx context.Context, id string) error
}

// head is the cluster head's half of the agent: the job table, the FIFO scheduler, the job supervisors and
// autostop. An agent becomes a head when it receives POST /v1/cluster, or at start when DIR/jobs.db exists.
type head struct {
	a     *agent
	store store
	ctx   context.Context // the agent's lifetime
	auto  *autostopper
	kick  chan struct{} // wakes the scheduler; buffered 1, so kicks coalesce
	wg    sync.WaitGroup

	mu         sync.Mutex
	configured bool
	cluster    ClusterConfig
	nodes      []procAPI // by node rank; nodes[0] is this agent's own procManager
	full, free capacity
	running    map[int64]*jobRun
	changed    chan struct{} // closed and replaced on every job state change
	stopping   bool          // autostop is stopping the cluster: no more jobs (selfStop)
}

const (
	settingCluster  = "cluster"
	settingAutostop = "autostop"
)

func newHead(a *agent) (*head, error) {
	db, err := sqlitedb.OpenContext(a.ctx, filepath.Join(a.dir, "jobs.db"), migrations)
	if err != nil {
		return nil, err
	}
	st, err := newStore(a.ctx, db, a.dir)
	if err != nil {
		db.Close()
		return nil, err
	}
	h := &head{a: a, store: st, ctx: a.ctx, kick: make(chan struct{}, 1),
		running: map[int64]*jobRun{}, changed: make(chan struct{})}
	h.auto = newAutostopper(a.clock, a.idleUnit, h.selfStop)
	fail := func(err error) (*head, error) {
		h.auto.stop()
		db.Close()
		return nil, err
	}
	var cfg ClusterConfig
	configured, err := h.store.getSetting(a.ctx, settingCluster, &cfg)
	if err != nil {
		return fail(fmt.Errorf("load cluster configuration: %w", err))
	}
	var auto AutostopConfig
	if found, err := h.store.getSetting(a.ctx, settingAutostop, &auto); err != nil {
		return fail(fmt.Errorf("load autostop setting: %w", err))
	} else if found {
		h.auto.configure(auto)
	}
	if configured {
		h.setCluster(cfg)
		if err := h.resume(); err != nil {
			return fail(err)
		}
	}
	h.updateBusy()
	h.wg.Add(1)
	go h.scheduleLoop()
	h.poke()
	return h, nil
}

// close waits for the scheduler and the supervisors to stop (the agent's context is cancelled first). Jobs keep
// running: the next agent adopts them.
func (h *head) close() error {
	h.wg.Wait()
	h.auto.stop()
	return h.store.db.Close()
}

// setCluster installs a configuration; resources held by running jobs stay held.
func (h *head) setCluster(cfg ClusterConfig) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cluster, h.configured = cfg, true
	for _, n := range h.nodes {
		if c, ok := n.(*Client); ok {
			c.Close() // only its idle connections: a supervisor may still be using it
		}
	}
	h.nodes = make([]procAPI, len(cfg.Nodes))
	for i, n := range cfg.Nodes {
		if i == 0 {
			h.nodes[i] = h.a.procs
			continue
		}
		h.nodes[i] = h.nodeClient(cfg.ClusterName, i, n.AgentAddr)
	}
	h.full = newCapacity(cfg.Nodes)
	h.free = h.full.clone()
	for _, r := range h.running {
		h.free.apply(r.place, r.spec.DemandPerNode, -1)
	}
}

// nodeClient returns a client for the agent of node rank of cluster, at addr.
func (h *head) nodeClient(cluster string, rank int, addr string) *Client {
	return NewClient(addr, string(h.a.secret), nil, WithTLS(h.a.clientTLS), WithNode(cluster, rank),
		WithTimeout(h.a.agentTimeout))
}

// node is node i's process control as the latest configuration reaches it. A running job holds nodes by rank,
// not by address: a node whose agent came back on another address (`stix start` after the agent died) is reached
// at the new one as soon as stix re-sends the configuration.
type node struct {
	h *head
	i int
}

func (n node) api() (procAPI, error) {
	n.h.mu.Lock()
	defer n.h.mu.Unlock()
	if n.i >= len(n.h.nodes) {
		return nil, fmt.Errorf("node %d left the cluster: %w", n.i, ErrNotFound)
	}
	return n.h.nodes[n.i], nil
}

func (n node) StartProc(ctx context.Context, spec ProcSpec) (ProcStatus, error) {
	a, err := n.api()
	if err != nil {
		return ProcStatus{}, err
	}
	return a.StartProc(ctx, spec)
}

func (n node) Proc(ctx context.Context, id string, wait bool) (ProcStatus, error) {
	a, err := n.api()
	if err != nil {
		return ProcStatus{}, err
	}
	return a.Proc(ctx, id, wait)
}

func (n node) SignalProc(ctx context.Context, id, sig string) error {
	a, err := n.api()
	if err != nil {
		return err
	}
	return a.SignalProc(ctx, id, sig)
}

func (n node) ProcOutput(ctx context.Context, id string, offset int64, follow bool, w io.Writer) (int64, error) {
	a, err := n.api()
	if err != nil {
		return offset, err
	}
	return a.ProcOutput(ctx, id, offset, follow, w)
}

func (n node) ReleaseProc(ctx context.Context, id string) error {
	a, err := n.api()
	if err != nil {
		return err
	}
	return a.ReleaseProc(ctx, id)
}

// resume restarts the supervision of jobs that were setting up or running when the previous agent stopped;
// their processes are looked up, not started again.
func (h *head) resume() error {
	rows, err := h.store.active(h.ctx)
	if err != nil {
		return fmt.Errorf("load running jobs: %w", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, row := range rows {
		h.a.log.Info("resuming job", "job", row.ID, "status", row.Status)
		h.startRun(newJobRun(row), row.Status, true)
	}
	return nil
}

// configure validates and installs a cluster configuration (POST /v1/cluster).
func (h *head) configure(ctx context.Context, cfg ClusterConfig) error {
	if len(cfg.Nodes) == 0 {
		return fmt.Errorf("%w: the cluster has no nodes", ErrInvalid)
	}
	sort.SliceStable(cfg.Nodes, func(i, j int) bool { return cfg.Nodes[i].Rank < cfg.Nodes[j].Rank })
	for i := range cfg.Nodes {
		n := &cfg.Nodes[i]
		switch {
		case n.Rank != i:
			return fmt.Errorf("%w: node ranks must be 0..%d, each once; got rank %d", ErrInvalid, len(cfg.Nodes)-1, n.Rank)
		case n.IP == "":
			return fmt.Errorf("%w: node %d has no ip", ErrInvalid, i)
		case i > 0 && n.AgentAddr == "":
			return fmt.Errorf("%w: node %d has no agent_addr", ErrInvalid, i)
		}
		if n.Resources.CPUs > 0 {
			continue
		}
		if i == 0 {
			n.Resources = h.a.resources
			continue
		}
		// Resources left out: ask the node's agent for its fingerprint.
		hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cl := h.nodeClient(cfg.ClusterName, i, n.AgentAddr)
		health, err := cl.Health(hctx)
		cl.Close()
		cancel()
		if err != nil {
			return fmt.Errorf("node %d (agent %s) did not report its resources: %w", i, n.AgentAddr, err)
		}
		n.Resources = health.Resources
	}
	auto := cfg.Autostop
	cfg.Autostop = nil
	if err := h.store.putSetting(ctx, settingCluster, cfg); err != nil {
		return fmt.Errorf("save cluster configuration: %w", err)
	}
	h.setCluster(cfg)
	if auto != nil {
		if err := h.setAutostop(ctx, *auto); err != nil {
			return err
		}
	}
	h.poke()
	return nil
}

func (h *head) setAutostop(ctx context.Context, cfg AutostopConfig) error {
	if cfg.IdleMinutes < -1 {
		return fmt.Errorf("%w: idle_minutes %d: use -1 to turn autostop off", ErrInvalid, cfg.IdleMinutes)
	}
	if err := validExit(cfg.Exit, true); err != nil {
		return err
	}
	if err := h.store.putSetting(ctx, settingAutostop, cfg); err != nil {
		return fmt.Errorf("save autostop setting: %w", err)
	}
	h.auto.configure(cfg)
	return nil
}

// autostop applies POST /v1/autostop.
func (h *head) autostop(ctx context.Context, req AutostopRequest) error {
	cfg := h.auto.config()
	cfg.IdleMinutes, cfg.Down = req.IdleMinutes, req.Down
	if req.Cancel {
		cfg.IdleMinutes, cfg.Down = -1, false
	}
	if req.Exit != "" {
		cfg.Exit = req.Exit
	}
	if err := h.a.keepExitRequests(req, cfg); err != nil {
		return err
	}
	return h.setAutostop(ctx, cfg)
}

// submit validates a job, rejects one that can never fit this cluster, and queues it.
func (h *head) submit(ctx context.Context, spec JobSpec) (int64, error) {
	if spec.NumNodes == 0 {
		spec.NumNodes = 1
	}
	if err := validateDemand(spec.DemandPerNode, spec.NumNodes); err != nil {
		return 0, err
	}
	for _, m := range []map[string]string{spec.Envs, spec.Secrets} {
		for k := range m {
			if k == "" || strings.ContainsAny(k, "=\x00") {
				return 0, fmt.Errorf("%w: environment variable name %q", ErrInvalid, k)
			}
		}
	}
	h.mu.Lock()
	configured, cluster, full, stopping := h.configured, h.cluster, h.full, h.stopping
	h.mu.Unlock()
	if !configured {
		return 0, errNotConfigured
	}
	if stopping {
		return 0, errStopping
	}
	if _, ok := full.place(spec.DemandPerNode, spec.NumNodes); !ok {
		return 0, fmt.Errorf("%w: %s", ErrInvalid, explainNeverFits(cluster.Nodes, spec.DemandPerNode, spec.NumNodes))
	}
	now := time.Now()
	if spec.RunTimestamp == "" {
		spec.RunTimestamp = runTimestamp(now)
	}
	id, err := h.store.insert(ctx, spec, cluster.ClusterName, now)
	if err != nil {
		return 0, err
	}
	h.auto.setBusy(true)
	h.notify()
	h.poke()
	return id, nil
}

var errNotConfigured = fmt.Errorf("%w: this agent has no cluster configuration yet: send POST /v1/cluster first", ErrConflict)

func (h *head) poke() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// notify wakes everyone waiting for a job state change.
func (h *head) notify() {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.changed)
	h.changed = make(chan struct{})
}

func (h *head) changes() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.changed
}

// scheduleLoop runs the scheduler whenever something happens (submit, job end, cancel, configuration).
func (h *head) scheduleLoop() {
	defer h.wg.Done()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-h.kick:
			if err := h.scheduleOnce(); err != nil && h.ctx.Err() == nil {
				h.a.log.Error("scheduling failed", "err", err)
			}
		}
	}
}

// scheduleOnce starts pending jobs in submission order while they fit; the first that does not fit blocks all
// later ones (strict FIFO: a small job never overtakes a big one that came first).
func (h *head) scheduleOnce() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.configured {
		return nil
	}
	type start struct {
		row   jobRow
		place []Assignment
	}
	var starts []start
	var impossible []jobRow
	free := h.free.clone()
	err := h.store.eachPending(h.ctx, func(row jobRow) bool {
		d := row.spec.DemandPerNode
		if _, ok := h.full.place(d, row.NumNodes); !ok {
			impossible = append(impossible, row) // after a reconfiguration to a smaller cluster
			return true
		}
		place, ok := free.place(d, row.NumNodes)
		if !ok {
			return false
		}
		free.apply(place, d, -1)
		starts = append(starts, start{row, place})
		return true
	})
	if err != nil {
		return fmt.Errorf("read pending jobs: %w", err)
	}
	now := time.Now()
	for _, row := range impossible {
		msg := explainNeverFits(h.cluster.Nodes, row.spec.DemandPerNode, row.NumNodes)
		if _, err := h.store.finish(h.ctx, row.ID, outcome{Status: StatusFailed, Message: msg}, now); err != nil {
			h.a.log.Error("record job end", "job", row.ID, "err", err)
		}
	}
	for _, s := range starts {
		status := StatusRunning
		if strings.TrimSpace(s.row.spec.Setup) != "" {
			status = StatusSettingUp
		}
		ok, err := h.store.start(h.ctx, s.row.ID, status, s.place, now)
		if err != nil {
			return fmt.Errorf("start job %d: %w", s.row.ID, err)
		}
		if !ok {
			continue
		}
		if err := h.store.withSecrets(&s.row); err != nil {
			msg := fmt.Sprintf("its secrets could not be read: %v", err)
			if _, err := h.store.finish(h.ctx, s.row.ID, outcome{Status: StatusFailedDriver, Message: msg}, now); err != nil {
				h.a.log.Error("record job end", "job", s.row.ID, "err", err)
			}
			continue
		}
		s.row.place = s.place
		h.startRun(newJobRun(s.row), status, false)
	}
	if len(starts)+len(impossible) > 0 {
		close(h.changed)
		h.changed = make(chan struct{})
	}
	return nil
}

// finishJob records a job's end, frees its resources and schedules what waited for them.
func (h *head) finishJob(r *jobRun, o outcome) {
	if _, err := h.store.finish(h.ctx, r.id, o, time.Now()); err != nil {
		h.a.log.Error("record job end", "job", r.id, "err", err)
	}
	h.mu.Lock()
	h.free.apply(r.place, r.spec.DemandPerNode, +1)
	delete(h.running, r.id)
	h.mu.Unlock()
	h.a.log.Info("job finished", "job", r.id, "status", o.Status)
	h.notify()
	h.poke()
	h.updateBusy()
}

func (h *head) updateBusy() {
	n, err := h.store.countUnfinished(h.ctx)
	if err != nil {
		return
	}
	h.auto.setBusy(n > 0)
}

func (h *head) jobs(ctx context.Context, q JobsQuery) ([]Job, error) {
	rows, err := h.store.list(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]Job, len(rows))
	for i, r := range rows {
		out[i] = r.Job
	}
	return out, nil
}

func (h *head) job(ctx context.Context, id int64) (Job, error) {
	r, err := h.store.get(ctx, id)
	return r.Job, err
}

// cancel cancels jobs: a pending one at once, a running one by killing its processes on every node (it returns
// when they are gone). A finished job is reported as such and left alone.
func (h *head) cancel(ctx context.Context, req CancelRequest) (CancelResult, error) {
	ids := req.IDs
	if req.All {
		rows, err := h.store.list(ctx, JobsQuery{SkipFinished: true, User: req.User})
		if err != nil {
			return CancelResult{}, err
		}
		for i := len(rows) - 1; i >= 0; i-- {
			ids = append(ids, rows[i].ID)
		}
	}
	res := CancelResult{Jobs: []CancelOutcome{}}
	for _, id := range ids {
		o, err := h.cancelOne(ctx, id)
		if err != nil {
			return res, err
		}
		res.Jobs = append(res.Jobs, o)
	}
	return res, nil
}

func (h *head) cancelOne(ctx context.Context, id int64) (CancelOutcome, error) {
	h.mu.Lock()
	if r := h.running[id]; r != nil {
		h.mu.Unlock()
		r.requestCancel()
		select {
		case <-r.finished:
		case <-ctx.Done():
			return CancelOutcome{}, ctx.Err()
		}
		row, err := h.store.get(ctx, id)
		if err != nil {
			return CancelOutcome{}, err
		}
		o := CancelOutcome{ID: id, Status: row.Status, Cancelled: row.Status == StatusCancelled}
		if !o.Cancelled {
			o.Message = fmt.Sprintf("job %d finished as %s before it could be cancelled", id, row.Status)
		}
		return o, nil
	}
	// Not running: pending or finished. The scheduler holds mu while it starts jobs, so a pending job cannot
	// start under us.
	o, changed, err := h.cancelPendingLocked(ctx, id)
	h.mu.Unlock()
	if changed {
		h.poke()
		h.updateBusy()
	}
	return o, err
}

// cancelPendingLocked cancels a job that is not running; mu is held.
func (h *head) cancelPendingLocked(ctx context.Context, id int64) (CancelOutcome, bool, error) {
	row, err := h.store.get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return CancelOutcome{ID: id, Message: fmt.Sprintf("job %d not found", id)}, false, nil
	}
	if err != nil {
		return CancelOutcome{}, false, err
	}
	if row.Status.IsTerminal() {
		return CancelOutcome{ID: id, Status: row.Status,
			Message: fmt.Sprintf("job %d already %s", id, row.Status)}, false, nil
	}
	if _, err := h.store.finish(ctx, id, outcome{Status: StatusCancelled}, time.Now()); err != nil {
		return CancelOutcome{}, false, err
	}
	close(h.changed)
	h.changed = make(chan struct{})
	return CancelOutcome{ID: id, Status: StatusCancelled, Cancelled: true}, true, nil
}

// logs streams a job's combined log to w: the last tail lines (all when tail ≤ 0), then, with follow, what
// is written until the job has finished and its output is complete.
func (h *head) logs(ctx context.Context, id int64, follow bool, tailN int, w io.Writer) error {
	path := filepath.Join(jobLogDir(h.a.dir, id), "run.log")
	for {
		changed := h.changes()
		row, err := h.store.get(ctx, id)
		if err != nil {
			return err
		}
		if _, err := os.Stat(path); err == nil {
			break
		}
		if row.Status.IsTerminal() || !follow {
			return nil // never started (cancelled while pending), or nothing yet
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	offset, err := tail.LastLinesOffset(path, tailN)
	if err != nil {
		return err
	}
	var done <-chan struct{}
	if follow {
		done = h.logsDone(id)
		defer h.auto.watch()()
	}
	_, err = tail.Follow(ctx, path, offset, w, done)
	return err
}

// logsDone is closed once the job's log is complete.
func (h *head) logsDone(id int64) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.running[id]; r != nil {
		return r.finished
	}
	done := make(chan struct{})
	close(done)
	return done
}
