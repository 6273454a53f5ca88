package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"time"
)

// nodeLostAfter is how long a node's agent may stay silent (calls timing out: a hung or partitioned node) before
// its processes count as lost: long enough to ride out a slow network, short enough that a job on a dead node
// fails instead of hanging.
const nodeLostAfter = 20 * time.Second

// AgentGoneAfter is how long, on a cluster configured with FailFastOnNodeLoss, a node's agent may refuse or reset
// connections before its processes count as lost. A broken connection is not silence: the node's kernel answers
// and no agent listens — the node died with its agent (a local node killed) or the agent is restarting. An agent
// restarted in place is back within a second; a node that died must fail its job at once, so that a managed
// job's controller starts recovering within seconds (docs/jobs-controller.md), not after nodeLostAfter. Other
// clusters wait nodeLostAfter either way, which leaves `stix start` the time to bring a dead agent back.
const AgentGoneAfter = 2 * time.Second

// procPollWindow bounds one long poll of a remote process's state, so that a running process is confirmed at
// least that often, and procProbeTimeout the quick check that follows a poll that ran out, and a signal. A node
// that vanished (a killed container, a powered-off host) drops packets without resetting connections; the
// client's own deadlines notice it (deadline.go: liveness checks on the long poll, the timeout on quick calls),
// and these windows only keep one call from waiting longer than they say.
const (
	procPollWindow   = 5 * time.Second
	procProbeTimeout = 3 * time.Second
)

// pumpDrain bounds the wait for a process's last output once it has ended.
const pumpDrain = 10 * time.Second

// jobRun is a job the head has started: its supervisor's handle.
type jobRun struct {
	id         int64
	spec       JobSpec
	place      []Assignment
	taskID     string
	cancelCh   chan struct{}
	cancelOnce sync.Once
	finished   chan struct{} // closed when the supervisor is done: status recorded, log complete
}

func newJobRun(row jobRow) *jobRun {
	return &jobRun{id: row.ID, spec: row.spec, place: row.place, taskID: row.TaskID,
		cancelCh: make(chan struct{}), finished: make(chan struct{})}
}

func (r *jobRun) requestCancel() { r.cancelOnce.Do(func() { close(r.cancelCh) }) }

func (r *jobRun) cancelRequested() bool {
	select {
	case <-r.cancelCh:
		return true
	default:
		return false
	}
}

// startRun registers r as running, takes its resources, creates its log and starts its supervisor. The log
// exists before the job shows as started, so a follower never waits for it. Called with mu held.
func (h *head) startRun(r *jobRun, status JobStatus, resume bool) {
	h.running[r.id] = r
	h.free.apply(r.place, r.spec.DemandPerNode, -1)
	logs, err := openJobLogs(jobLogDir(h.a.dir, r.id))
	h.wg.Add(1)
	go h.supervise(r, status, resume, logs, err)
}

func (h *head) supervise(r *jobRun, status JobStatus, resume bool, logs *jobLogs, logErr error) {
	defer h.wg.Done()
	defer close(r.finished)
	if logErr != nil {
		h.finishJob(r, outcome{Status: StatusFailedDriver, Message: logErr.Error()})
		return
	}
	defer logs.Close()
	o, ok := h.runJob(r, status, resume, logs)
	if !ok {
		return // the agent is stopping: the job stays as it is for the next agent to adopt
	}
	// What the job wrote to MOUNT_CACHED buckets is uploaded before its end is recorded.
	o = h.flushJobMounts(r, o, logs)
	if h.ctx.Err() != nil {
		return // stopped while flushing: the next agent adopts the job and flushes again
	}
	h.finishJob(r, o)
}

// rankProc is one process of a gang: a node's setup or a rank's run.
type rankProc struct {
	node   int
	api    procAPI
	spec   ProcSpec
	raw    string // file name under the job's tasks/
	prefix func(pid int) string
}

// runJob runs setup (when the job is at that phase) then run, and returns how the job ended; ok is false when
// the agent is stopping.
func (h *head) runJob(r *jobRun, status JobStatus, resume bool, logs *jobLogs) (outcome, bool) {
	h.mu.Lock()
	c, full := h.cluster, h.full
	h.mu.Unlock()
	for _, a := range r.place {
		if a.Node >= len(c.Nodes) {
			return outcome{Status: StatusFailedDriver,
				Message: fmt.Sprintf("node %d left the cluster while the job ran on it", a.Node)}, true
		}
	}
	base := jobEnv(r.id, r.spec, c, r.taskID)
	if status == StatusSettingUp {
		procs := make([]rankProc, len(c.Nodes))
		for i, n := range c.Nodes {
			procs[i] = rankProc{node: i, api: node{h, i}, raw: "setup-" + nodeName(i) + ".log",
				spec:   ProcSpec{ID: fmt.Sprintf("job%d-setup-%d", r.id, i), Script: r.spec.Setup, Env: setupEnv(base, r.spec, c, i), Workdir: r.spec.Workdir},
				prefix: func(pid int) string { return setupPrefix(i, pid, n.IP) }}
		}
		g := h.gang(r, procs, resume, logs)
		switch {
		case g.aborted:
			return outcome{}, false
		case g.cancelled:
			h.release(procs, g.gone)
			return outcome{Status: StatusCancelled}, true
		case g.lost:
			h.release(procs, g.gone)
			logs.line("ERROR: Job %d's setup lost track of its processes: %s", r.id, g.msg)
			return outcome{Status: StatusFailedDriver, Message: g.msg}, true
		case g.failed >= 0:
			h.release(procs, g.gone)
			f := procs[g.failed]
			logs.line("ERROR: Job %d's setup failed on %s (pid=%d, returncode=%d). See the setup output above.",
				r.id, nodeName(f.node), g.pids[g.failed], g.code)
			return outcome{Status: StatusFailedSetup, ExitCode: &g.code, FailedRank: &f.node,
				Message: fmt.Sprintf("setup failed on node %d with exit code %d", f.node, g.code)}, true
		}
		if r.cancelRequested() {
			h.release(procs, g.gone)
			return outcome{Status: StatusCancelled}, true
		}
		if err := h.store.setRunning(h.ctx, r.id, time.Now()); err != nil {
			return outcome{}, false
		}
		h.notify()
		h.release(procs, g.gone)
		resume = false // the run processes were never started
	}
	procs := make([]rankProc, len(r.place))
	for rank, a := range r.place {
		n := c.Nodes[a.Node]
		hasDevices := a.Node < len(full) && len(full[a.Node].Devices) > 0
		procs[rank] = rankProc{node: a.Node, api: node{h, a.Node},
			raw: fmt.Sprintf("%d-%s.log", rank, nodeName(a.Node)),
			spec: ProcSpec{ID: fmt.Sprintf("job%d-run-%d", r.id, rank), Script: r.spec.Run,
				Env: runEnv(base, r.spec, c, r.place, rank, hasDevices), Workdir: r.spec.Workdir},
			prefix: func(pid int) string {
				return runPrefix(len(c.Nodes), r.spec.Name, a.Node, rank, pid, n.IP)
			}}
	}
	g := h.gang(r, procs, resume, logs)
	if g.aborted {
		return outcome{}, false
	}
	defer h.release(procs, g.gone)
	switch {
	case g.cancelled:
		return outcome{Status: StatusCancelled}, true
	case g.lost:
		logs.line("ERROR: Job %d lost track of its processes: %s", r.id, g.msg)
		return outcome{Status: StatusFailedDriver, Message: g.msg}, true
	case g.failed >= 0:
		logs.line("ERROR: Job %d failed with return code list: %s", r.id, formatCodes(g.codes))
		rank := g.failed
		return outcome{Status: StatusFailed, ExitCode: &g.code, FailedRank: &rank,
			Message: fmt.Sprintf("rank %d exited with code %d", rank, g.code)}, true
	}
	zero := 0
	return outcome{Status: StatusSucceeded, ExitCode: &zero}, true
}

func formatCodes(codes []int) string {
	s := make([]string, len(codes))
	for i, c := range codes {
		s[i] = fmt.Sprint(c)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// gangResult is how a gang of processes ended.
type gangResult struct {
	aborted   bool // the agent is stopping; nothing was killed
	cancelled bool
	lost      bool // a process could not be started, reached or accounted for
	msg       string
	failed    int // index of the first process that exited non-zero, -1 if none
	code      int
	codes     []int // every process's exit code, -1 when unknown
	pids      []int
	// gone marks the processes whose node could not be reached at their end: nothing more is sent there (a
	// signal or a release to a vanished node would only wait out its timeout before the job can end).
	gone []bool
}

type waitResult struct {
	i   int
	st  ProcStatus
	err error
}

// gang starts (or, resuming, looks up) the processes in parallel, streams their output into the job's logs and
// waits for all of them. The first failure or a cancel request kills the others and all they started (SignalProc):
// SIGTERM, then SIGKILL after the grace period.
func (h *head) gang(r *jobRun, procs []rankProc, resume bool, logs *jobLogs) gangResult {
	ctx := h.ctx
	n := len(procs)
	res := gangResult{failed: -1, codes: make([]int, n), pids: make([]int, n), gone: make([]bool, n)}
	for i := range res.codes {
		res.codes[i] = -1
	}
	started := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Go(func() {
			// A node that accepts the connection but never answers must not hang the job.
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			var st ProcStatus
			var err error
			if resume {
				st, err = p.api.Proc(sctx, p.spec.ID, false)
			} else {
				st, err = p.api.StartProc(sctx, p.spec)
			}
			if err == nil {
				res.pids[i], started[i] = st.PID, true
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		res.aborted = true
		return res
	}

	pumpCtx, stopPumps := context.WithCancel(ctx)
	var pumps sync.WaitGroup
	defer func() {
		stopPumps()
		pumps.Wait()
	}()
	goneAfter := nodeLostAfter
	h.mu.Lock()
	if h.cluster.FailFastOnNodeLoss {
		goneAfter = AgentGoneAfter
	}
	h.mu.Unlock()
	results := make(chan waitResult, n)
	// A process whose node is lost has no more output to give: its pump stops with the wait, so that the drain
	// at the end does not wait pumpDrain for it.
	stopPump := make([]context.CancelFunc, n)
	for i, p := range procs {
		if !started[i] {
			results <- waitResult{i: i, err: errs[i]}
			continue
		}
		pctx, cancel := context.WithCancel(pumpCtx)
		stopPump[i] = cancel
		pumps.Go(func() { defer cancel(); h.pump(pctx, p, res.pids[i], logs) })
		go func() {
			st, err := waitProc(ctx, p, goneAfter)
			results <- waitResult{i, st, err}
		}()
	}

	cancelCh := r.cancelCh
	var killTimer <-chan time.Time
	killing := false
	done := make([]bool, n)
	signal := func(sig string) {
		var sg sync.WaitGroup
		for i, p := range procs {
			if started[i] && !done[i] {
				sg.Go(func() {
					sctx, cancel := context.WithTimeout(ctx, procProbeTimeout)
					defer cancel()
					if err := p.api.SignalProc(sctx, p.spec.ID, sig); err != nil && ctx.Err() == nil {
						h.a.log.Warn("signal job process", "process", p.spec.ID, "signal", sig, "err", err)
					}
				})
			}
		}
		sg.Wait()
	}
	kill := func() {
		if !killing {
			killing = true
			signal("TERM")
			killTimer = time.After(h.a.killGrace)
		}
	}
	for remaining := n; remaining > 0; {
		select {
		case w := <-results:
			remaining--
			done[w.i] = true
			switch {
			case w.err != nil && ctx.Err() != nil:
				res.aborted = true
				return res // the supervisor's waits end with the agent; the processes keep running
			case w.err != nil:
				res.gone[w.i] = true
				if stopPump[w.i] != nil {
					stopPump[w.i]()
				}
				// Once killing (after a failure or a cancel), a process that goes missing changes nothing.
				if !res.lost && !killing {
					res.lost, res.msg = true, fmt.Sprintf("%s on node %d: %v", procs[w.i].spec.ID, procs[w.i].node, w.err)
				}
				kill()
			case w.st.State == ProcLost:
				if !res.lost && !killing {
					res.lost = true
					res.msg = fmt.Sprintf("%s on node %d ended without an exit code while no agent watched it "+
						"(stopped with its node, or killed together with its wrapper)", procs[w.i].spec.ID, procs[w.i].node)
				}
				kill()
			default:
				res.codes[w.i] = w.st.ExitCode
				if w.st.ExitCode != 0 && res.failed < 0 && !killing {
					res.failed, res.code = w.i, w.st.ExitCode
				}
				if w.st.ExitCode != 0 {
					kill()
				}
			}
		case <-cancelCh:
			cancelCh = nil
			if !killing {
				res.cancelled = true
			}
			kill()
		case <-killTimer:
			killTimer = nil
			signal("KILL")
		case <-ctx.Done():
			res.aborted = true
			return res
		}
	}
	// Every process has ended. Whatever they started and left running (a server started with `&`, a daemon that
	// detached) goes too, or it would hold resources the scheduler now counts as free.
	for i := range done {
		done[i] = res.gone[i]
	}
	signal("KILL")
	// Give the pumps the time to pull the last of the output (the deferred wait collects them after a stop).
	drained := make(chan struct{})
	go func() { pumps.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(pumpDrain):
	case <-ctx.Done():
		res.aborted = true
	}
	return res
}

// waitProc waits for a process to end, riding out a node agent's restart: up to goneAfter while the node's
// agent refuses connections, up to nodeLostAfter while it does not answer.
func waitProc(ctx context.Context, p rankProc, goneAfter time.Duration) (ProcStatus, error) {
	lastContact := time.Now()
	var brokenSince time.Time // when the calls began to fail with a broken connection; zero while they do not
	backoff := 100 * time.Millisecond
	for {
		pctx, cancel := context.WithTimeout(ctx, procPollWindow)
		st, err := p.api.Proc(pctx, p.spec.ID, true)
		cancel()
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			// The long poll only ran out: ask once, quickly, whether the node still answers.
			qctx, cancel := context.WithTimeout(ctx, procProbeTimeout)
			st, err = p.api.Proc(qctx, p.spec.ID, false)
			cancel()
		}
		if err == nil && st.State != ProcRunning {
			return st, nil
		}
		if err == nil {
			lastContact, brokenSince = time.Now(), time.Time{}
			continue
		}
		if ctx.Err() != nil || errors.Is(err, ErrNotFound) || time.Since(lastContact) > nodeLostAfter {
			return st, err
		}
		if !connectionBroken(err) {
			brokenSince = time.Time{}
		} else if brokenSince.IsZero() {
			brokenSince = time.Now()
		} else if time.Since(brokenSince) >= goneAfter {
			return st, fmt.Errorf("the node's agent refused connections past the %v grace (its node is gone): %w", goneAfter, err)
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Second)
	}
}

// connectionBroken says whether a call failed because nothing listens at the node's agent address any more
// (refused, reset, unreachable, closed mid-answer), as opposed to a slow or silent agent.
func connectionBroken(err error) bool {
	for _, e := range []error{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EHOSTUNREACH, syscall.ENETUNREACH,
		syscall.EPIPE, io.EOF, io.ErrUnexpectedEOF} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// pump pulls a process's output into the job's logs from where the last pull stopped, until the process has
// ended and its output is complete.
func (h *head) pump(ctx context.Context, p rankProc, pid int, logs *jobLogs) {
	w, offset, err := logs.writer(p.raw, p.prefix(pid))
	if err != nil {
		h.a.log.Error("open task log", "process", p.spec.ID, "err", err)
		return
	}
	defer w.Close()
	backoff := 100 * time.Millisecond
	for {
		off, err := p.api.ProcOutput(ctx, p.spec.ID, offset, true, w)
		offset = off
		if ctx.Err() != nil || errors.Is(err, ErrNotFound) {
			return
		}
		if err == nil {
			// The stream ends when the process has ended and its output is drained, or early when the node's
			// agent stops; only the first is the end.
			if st, err := p.api.Proc(ctx, p.spec.ID, false); err == nil && st.State != ProcRunning {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// release deletes finished processes' files on their nodes; their output is in the head's logs now. The gone
// ones' nodes could not be reached: they are left alone.
func (h *head) release(procs []rankProc, gone []bool) {
	var wg sync.WaitGroup
	for i, p := range procs {
		if i < len(gone) && gone[i] {
			continue
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
			defer cancel()
			if err := p.api.ReleaseProc(ctx, p.spec.ID); err != nil && !errors.Is(err, ErrNotFound) && h.ctx.Err() == nil {
				h.a.log.Warn("release job process", "process", p.spec.ID, "err", err)
			}
		})
	}
	wg.Wait()
}
