package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stix-run/stix/api"
)

var (
	errCancelled = errors.New("the managed job was cancelled")
	errLeaseLost = errors.New("this controller lost the managed job's lease")
)

// runner runs one job in this process while it holds the job's lease (the controller renews the leases of all
// its runners at once, and stops a runner whose lease is lost or whose job was cancelled elsewhere).
type runner struct {
	c   *Controller
	id  int64
	ctx context.Context // ends when the runner must stop; its cause says why

	job   *Job
	tasks []Task

	logMu sync.Mutex
	log   *os.File // the job's controller log
}

func newRunner(ctx context.Context, c *Controller, id int64) *runner {
	return &runner{c: c, id: id, ctx: ctx}
}

// Run runs the job (leased.Runner).
func (r *runner) Run() { r.run() }

// run runs the job's tasks one after another, from where the job stands.
func (r *runner) run() {
	if err := os.MkdirAll(r.c.jobDir(r.id), 0o700); err == nil {
		r.log, _ = os.OpenFile(filepath.Join(r.c.jobDir(r.id), ControllerLog), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	}
	defer func() {
		if r.log != nil {
			r.log.Close()
		}
	}()
	var err error
	r.job, r.tasks, err = r.c.st.Job(r.ctx, r.id)
	if err != nil {
		r.c.opts.Log.Warn("managed jobs: read job", "job", r.id, "err", err)
		return
	}
	if r.job.Status.Terminal() {
		return
	}
	r.logf("controller %s runs the job", r.c.runners.Holder())
	ended := false
	defer func() {
		if ended {
			r.dropUploads()
		}
	}()
	for i := r.job.CurrentTask; i < len(r.tasks); i++ {
		final, err := r.runTask(i)
		if err != nil {
			r.logf("stopped: %v", err)
			return
		}
		ended = i == len(r.tasks)-1 || final != api.ManagedSucceeded
		if final == api.ManagedSucceeded {
			continue
		}
		// A pipeline stops at its first task that does not succeed; the rest never run.
		reason := ReasonPreviousFailed
		if final == api.ManagedCancelled {
			reason = ReasonCancelled
		}
		for k := i + 1; k < len(r.tasks); k++ {
			t := &r.tasks[k]
			t.Status, t.EndedAt = api.ManagedCancelled, r.c.opts.Now()
			if err := r.update(final, t, reason, fmt.Sprintf("task %d ended %s", i, final)); err != nil {
				return
			}
		}
		return
	}
}

// dropUploads deletes the job's files from the intermediate bucket (Options.DropUploads) once it has ended: no
// recovery reads them again. A failure is logged; the files stay.
func (r *runner) dropUploads() {
	if r.c.opts.DropUploads == nil {
		return
	}
	var tasks []api.TaskSpec
	for _, t := range r.job.Spec.Tasks {
		tasks = append(tasks, t.Task)
	}
	uris := api.BucketUploads(tasks...)
	if len(uris) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), r.c.opts.CallTimeout)
	defer cancel()
	if err := r.c.opts.DropUploads(ctx, uris); err != nil {
		r.logf("could not delete the job's files from the intermediate bucket (%s): %v", strings.Join(uris, ", "), err)
		return
	}
	r.logf("deleted the job's files from the intermediate bucket: %s", strings.Join(uris, ", "))
}

// ControllerLog is the file, in a job's directory, where its controller writes what it does.
const ControllerLog = "controller.log"

// logf writes a line to the job's controller log.
func (r *runner) logf(format string, args ...any) {
	r.logMu.Lock()
	defer r.logMu.Unlock()
	if r.log != nil {
		fmt.Fprintf(r.log, "%s %s\n", r.c.opts.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
	}
}

// stopped is the error that ends a runner whose context ended: a cancel is not one (the task ends CANCELLED).
func (r *runner) stopped() error { return context.Cause(r.ctx) }

func (r *runner) cancelled() bool { return errors.Is(context.Cause(r.ctx), errCancelled) }

// update records task t's new state with the reason of the change; the job's state follows its task's.
func (r *runner) update(jobStatus api.ManagedJobStatus, t *Task, reason, msg string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), r.c.opts.CallTimeout)
	defer cancel()
	ev := api.ManagedJobEvent{At: r.c.opts.Now(), Status: t.Status, Reason: reason, Message: msg}
	if err := r.c.st.Update(ctx, jobStatus, t, ev); err != nil {
		r.c.opts.Log.Warn("managed jobs: record state", "job", r.id, "task", t.TaskID, "status", t.Status, "err", err)
		return fmt.Errorf("record task %d %s: %w", t.TaskID, t.Status, err)
	}
	r.logf("task %d: %s (%s) %s", t.TaskID, t.Status, reason, msg)
	return nil
}

// jobStatus is the job's state when its task i is in state s: a pipeline between tasks is STARTING.
func (r *runner) jobStatus(i int, s api.ManagedJobStatus) api.ManagedJobStatus {
	if s == api.ManagedSucceeded && i < len(r.tasks)-1 {
		return api.ManagedStarting
	}
	return s
}

// set moves task i to status s and records it.
func (r *runner) set(i int, s api.ManagedJobStatus, reason, msg string) error {
	t := &r.tasks[i]
	now := r.c.opts.Now()
	if s != api.ManagedRunning && !t.RunningSince.IsZero() {
		t.JobDuration += now.Sub(t.RunningSince)
		t.RunningSince = time.Time{}
	}
	if s.Terminal() {
		t.EndedAt = now
		if s != api.ManagedSucceeded {
			t.Failure = msg
		}
	}
	t.Status = s
	return r.update(r.jobStatus(i, s), t, reason, msg)
}

type step int

const (
	stepLaunch step = iota
	stepWatch
)

// runTask runs task i until it ends and returns its final state; an error means the runner stopped (the
// controller closing, the lease lost) and the task is left as it stands, for the next controller.
func (r *runner) runTask(i int) (api.ManagedJobStatus, error) {
	t := &r.tasks[i]
	rec := r.job.Spec.Tasks[i].Recovery
	var (
		where      Where
		cnt        Counters
		next       = stepLaunch
		recovering = t.Recoveries > 0
	)
	if r.job.Cancel || t.Status == api.ManagedCancelling {
		return r.cancel(i)
	}
	switch t.Status {
	case api.ManagedRunning, api.ManagedRecovering, api.ManagedStarting:
		// The controller restarted with the task in flight: re-attach if the task still runs on its cluster.
		var (
			d  Decision
			ok bool
		)
		next, d, ok = r.reattach(i, rec)
		if ok {
			final, again, err := r.apply(i, d, &where)
			if err != nil || !again {
				return final, err
			}
			recovering = true
		}
	case api.ManagedPending:
		if t.Attempt > 0 {
			recovering = true
		}
	}
	for {
		if r.ctx.Err() != nil {
			if r.cancelled() {
				return r.cancel(i)
			}
			return "", r.stopped()
		}
		switch next {
		case stepLaunch:
			if r.job.Pool != "" {
				final, err := r.launchOnPool(i, recovering)
				switch {
				case err != nil && r.ctx.Err() == nil:
					return "", err
				case err == nil && final != "":
					return final, nil
				case err == nil:
					next = stepWatch
				}
				continue // on a worker, or stopped or cancelled: see the top of the loop
			}
			err := r.launch(i, where, recovering)
			if err == nil {
				cnt.LaunchTries, next = 0, stepWatch
				continue
			}
			if r.ctx.Err() != nil {
				continue
			}
			cnt.Tried, cnt.Recovering = where, recovering
			d := Decide(rec, Event{Kind: LaunchFailed, Err: err}, cnt, r.c.opts.Limits)
			r.logf("task %d: launch failed: %v", i, err)
			switch d.Action {
			case Relaunch:
				where = d.Where
			case Backoff:
				if err := r.set(i, api.ManagedPending, d.Reason, d.Message); err != nil {
					return "", err
				}
				cnt.LaunchTries++
				where = d.Where
				r.wait(d.Wait)
			case End:
				r.free(i, false, false)
				return d.Status, r.set(i, d.Status, d.Reason, d.Message)
			}
		case stepWatch:
			ev, err := r.watch(i)
			if err != nil {
				continue // the context ended: cancelled or stopped, see the top of the loop
			}
			cnt.Restarts = t.Restarts
			d := Decide(rec, ev, cnt, r.c.opts.Limits)
			final, again, err := r.apply(i, d, &where)
			if err != nil || !again {
				return final, err
			}
			recovering, next = true, stepLaunch
		}
	}
}

// apply carries out a decision about a task whose cluster ran: End tears the cluster down and records the
// final state; Relaunch records RECOVERING (with why), tears the cluster down and says to launch again.
func (r *runner) apply(i int, d Decision, where *Where) (final api.ManagedJobStatus, again bool, err error) {
	t := &r.tasks[i]
	switch d.Action {
	case End:
		r.free(i, false, false)
		return d.Status, false, r.set(i, d.Status, d.Reason, d.Message)
	default:
		if d.CountRecovery {
			t.Recoveries++
		}
		if d.CountRestart {
			t.Restarts++
		}
		if err := r.set(i, api.ManagedRecovering, d.Reason, d.Message); err != nil {
			return "", false, err
		}
		// A restart after the user's error keeps a pool's worker; any other recovery is a lost cluster.
		r.free(i, d.Reason != ReasonUserErrorRestart, false)
		*where = d.Where
		return "", true, nil
	}
}

// reattach looks at a task that was in flight when the controller restarted: its job still answers on its
// cluster (watch it again, whether it still runs or ended while nobody watched), or its cluster is gone
// (recover it, reason controller_restart). ok says d is to be applied.
func (r *runner) reattach(i int, rec Recovery) (next step, d Decision, ok bool) {
	t := &r.tasks[i]
	if t.Cluster == "" || t.ClusterJobID == 0 {
		// It was launching: launch again (a half-made cluster of the same name is reused or replaced).
		r.logf("task %d: the controller restarted while the task was launching; launching again", i)
		return stepLaunch, Decision{}, false
	}
	ctx, cancel := r.callCtx()
	defer cancel()
	j, err := r.c.opts.Core.Job(ctx, t.Cluster, t.ClusterJobID)
	if err == nil {
		// Watching it again copies its whole output, and ends at once with its outcome if it ended meanwhile.
		if t.Status != api.ManagedRunning {
			t.RunningSince = r.c.opts.Now()
		}
		_ = r.set(i, api.ManagedRunning, ReasonReattached, fmt.Sprintf("the controller restarted; job %d on %s is %s", t.ClusterJobID, t.Cluster, j.Status))
		return stepWatch, Decision{}, false
	}
	r.logf("task %d: the controller restarted and cluster %s does not answer: %v", i, t.Cluster, err)
	d = Decide(rec, Event{Kind: ControllerRestarted, Place: t.Place}, Counters{Restarts: t.Restarts}, r.c.opts.Limits)
	// A task that was already RECOVERING had this recovery counted when it began.
	d.CountRecovery = d.CountRecovery && t.Status == api.ManagedRunning
	return stepLaunch, d, true
}

// cancel ends task i CANCELLED: CANCELLING while its cluster is torn down.
func (r *runner) cancel(i int) (api.ManagedJobStatus, error) {
	if err := r.set(i, api.ManagedCancelling, ReasonCancelled, "cancel asked"); err != nil {
		return "", err
	}
	r.free(i, false, true)
	return api.ManagedCancelled, r.set(i, api.ManagedCancelled, ReasonCancelled, "cancelled by the user")
}

// wait waits d, or until the runner stops.
func (r *runner) wait(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.ctx.Done():
	}
}

// callCtx bounds a call to the core (not a launch); it outlives the runner's cancellation so that cleanups
// finish, and acts as the job's owner.
func (r *runner) callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.asOwner(context.WithoutCancel(r.ctx)), r.c.opts.CallTimeout)
}

// asOwner makes ctx act as the job's owner: the core records the job's clusters under the owner's name and
// sets SKYPILOT_USER to it.
func (r *runner) asOwner(ctx context.Context) context.Context {
	return asUser(ctx, r.job.User)
}

// down tears a job cluster down; one already gone is fine.
func (r *runner) down(name string) {
	if name == "" {
		return
	}
	down := func(purge bool) error {
		ctx, cancel := context.WithTimeout(r.asOwner(context.WithoutCancel(r.ctx)), r.c.opts.DownTimeout)
		defer cancel()
		_, err := api.Wait(r.c.opts.Core.Down(ctx, name, purge))
		return err
	}
	err := down(false)
	var nf *api.ClusterNotFoundError
	if err != nil && !errors.As(err, &nf) {
		r.logf("tear down %s: %v; purging it", name, err)
		err = down(true) // with a deadline of its own
	}
	if err != nil && !errors.As(err, &nf) {
		r.logf("tear down %s: %v", name, err)
		return
	}
	r.logf("cluster %s torn down", name)
}

// clusterName is task i's job cluster, named as SkyPilot names them: the task's name (else the job's), made a
// valid cluster name and cut to 25 characters, then "-" and the job ID.
func (r *runner) clusterName(i int) string {
	name := r.tasks[i].Name
	if name == "" {
		name = r.job.Name
	}
	return ClusterName(name, r.id)
}

// ClusterName is the job cluster of a task called name in job id.
func ClusterName(name string, id int64) string {
	var b strings.Builder
	for _, c := range strings.ToLower(name) {
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b.WriteRune(c)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 25 {
		s = strings.TrimRight(s[:25], "-")
	}
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		s = "job" + s
	}
	return s + "-" + strconv.FormatInt(id, 10)
}

// TaskIDs are SKYPILOT_TASK_ID of each task of a job: "sky-managed-<time>_<task name>_<job id>-<task index>",
// the same across recoveries.
func TaskIDs(runTimestamp string, id int64, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%s_%s_%d-%d", runTimestamp, n, id, i)
	}
	return out
}

// launch launches task i on its job cluster, where w allows, and records it RUNNING there.
func (r *runner) launch(i int, w Where, recovering bool) error {
	t := &r.tasks[i]
	status := api.ManagedStarting
	if recovering {
		status = api.ManagedRecovering
	}
	if t.Status != status {
		if err := r.set(i, status, ReasonLaunching, whereText(w)); err != nil {
			return err
		}
	}
	name := r.clusterName(i)
	ts := r.taskSpec(i)
	if !w.Prefer.IsZero() {
		infra := w.Prefer.Infra()
		ts.Overrides.Infra = &infra
	}
	// Nobody restarts a job cluster: a worker that dies fails the job at once, and the job recovers elsewhere.
	opts := api.LaunchOptions{ClusterName: name, Command: fmt.Sprintf("stix jobs launch (managed job %d, task %d)", r.id, i),
		FailFastOnNodeLoss: true}
	for _, p := range w.Avoid {
		opts.AvoidInfra = append(opts.AvoidInfra, p.Infra())
	}
	r.logf("task %d: launching cluster %s (%s)", i, name, whereText(w))
	ctx, cancel := context.WithTimeout(r.asOwner(r.ctx), r.c.opts.LaunchTimeout)
	defer cancel()
	op, err := r.c.opts.Core.Launch(ctx, api.LaunchRequest{Task: ts, Options: opts})
	var res api.LaunchResult
	if err == nil {
		for ev := range op.Events() {
			if ev.Error != "" {
				r.logf("  %s: %s", ev.Msg, ev.Error)
			} else if ev.Msg != "" {
				r.logf("  %s", ev.Msg)
			}
		}
		res, err = op.Wait()
	}
	if err != nil {
		if r.cancelled() {
			r.down(name) // a launch cut short by a cancel leaves nothing behind; one cut by a stop is resumed
		}
		return err
	}
	t.Cluster, t.ClusterJobID = res.ClusterName, res.JobID
	sctx, scancel := r.callCtx()
	defer scancel()
	if cs, err := r.c.opts.Core.Status(sctx, []string{name}, false); err == nil && len(cs) == 1 {
		t.Infra, t.Place = cs[0].Infra, Place{Cloud: cs[0].Cloud, Region: cs[0].Region}
	}
	now := r.c.opts.Now()
	if t.StartedAt.IsZero() {
		t.StartedAt = now
	}
	t.RunningSince = now
	t.Attempt++
	return r.set(i, api.ManagedRunning, ReasonLaunched, fmt.Sprintf("on %s, cluster %s, job %d", t.Infra, name, res.JobID))
}

// taskSpec is task i as it travels to the core, with the managed-job variables (and, on a pool, the job's rank)
// in its env.
func (r *runner) taskSpec(i int) api.TaskSpec {
	ts := r.job.Spec.Tasks[i].Task
	names := make([]string, len(r.tasks))
	for k := range r.tasks {
		names[k] = r.tasks[k].Name
	}
	ids := TaskIDs(r.job.RunTimestamp, r.id, names)
	ts.Env = maps.Clone(ts.Env)
	if ts.Env == nil {
		ts.Env = map[string]string{}
	}
	ts.Env["SKYPILOT_MANAGED_JOB_ID"] = strconv.FormatInt(r.id, 10)
	ts.Env["SKYPILOT_TASK_ID"] = ids[i]
	ts.Env["SKYPILOT_TASK_IDS"] = strings.Join(ids, "\n")
	if r.job.Pool != "" {
		ts.Env["SKYPILOT_JOB_RANK"] = strconv.Itoa(r.job.Spec.Rank)
		ts.Env["SKYPILOT_NUM_JOBS"] = strconv.Itoa(max(r.job.Spec.NumJobs, 1))
	}
	return ts
}

func whereText(w Where) string {
	switch {
	case !w.Prefer.IsZero():
		return "in " + w.Prefer.Infra() + " only"
	case len(w.Avoid) > 0:
		var l []string
		for _, p := range w.Avoid {
			l = append(l, p.Infra())
		}
		return "anywhere but " + strings.Join(l, ", ")
	}
	return "anywhere"
}

// RunLog is the file, in a job's directory, holding task i's output of its launch n (1-based).
func RunLog(task, n int) string { return fmt.Sprintf("task-%d.run-%d.log", task, n) }

// watch follows task i's output into the job's directory until the task ends or its cluster is lost. A stream
// that breaks is the signal: the cluster is then refreshed, and a cluster no longer UP, or a job no longer
// answering, is lost. It returns an error only when the runner's context ended.
func (r *runner) watch(i int) (Event, error) {
	t := &r.tasks[i]
	path := filepath.Join(r.c.jobDir(r.id), RunLog(i, t.Attempt))
	for breaks := 0; ; breaks++ {
		// The agent replays the job's whole output: the file is written from the start at each attach.
		f, err := os.Create(path)
		if err != nil {
			r.logf("task %d: keep output: %v", i, err)
		}
		var w io.Writer = io.Discard
		if f != nil {
			w = f
		}
		// The provider's node events end the stream at once when a node is gone: a worker whose address goes
		// silent would otherwise be noticed only at the head agent's silence limit.
		lctx, lost := context.WithCancelCause(r.asOwner(r.ctx))
		nodes := r.followNodes(lctx, t.Cluster, lost)
		j, err := r.c.opts.Core.Logs(lctx, t.Cluster, t.ClusterJobID, api.LogsOptions{Follow: true}, w)
		cause := context.Cause(lctx)
		lost(nil)
		<-nodes
		if f != nil {
			f.Close()
		}
		if r.ctx.Err() != nil {
			return Event{}, r.stopped()
		}
		if err == nil && j.Status.IsTerminal() {
			if j.ExitCode == nil && j.Status != api.JobSucceeded {
				// The stream's end says how the job ended, not its exit code: ask for it.
				ctx, cancel := r.callCtx()
				if full, err := r.c.opts.Core.Job(ctx, t.Cluster, t.ClusterJobID); err == nil && full.Status == j.Status {
					j = full
				}
				cancel()
			}
			ev := outcome(j, t.Place)
			if ev.Kind != TaskExited || ev.ExitCode != 0 {
				// A task that failed because one of its nodes died (a worker of a multi-node cluster) is a lost
				// cluster, not the user's error: look at the cluster before blaming the task.
				if down, ok := r.clusterDown(t); ok && down {
					r.logf("task %d: job %d ended %s and cluster %s is no longer UP", i, t.ClusterJobID, j.Status, t.Cluster)
					return Event{Kind: ClusterLost, Place: t.Place}, nil
				}
			}
			return ev, nil
		}
		var nl *nodeLostError
		if errors.As(cause, &nl) {
			return Event{Kind: ClusterLost, Place: t.Place, Err: nl}, nil
		}
		r.logf("task %d: the log stream of %s ended (%v); checking the cluster", i, t.Cluster, err)
		if ev, lost := r.check(t); lost {
			return ev, nil
		}
		if breaks >= 3 {
			return Event{Kind: ClusterLost, Place: t.Place}, nil
		}
		r.wait(time.Second)
	}
}

// clusterDown refreshes a task's cluster and reports whether it is gone or not UP; ok is false when that could
// not be told.
func (r *runner) clusterDown(t *Task) (down, ok bool) {
	ctx, cancel := r.callCtx()
	defer cancel()
	cs, err := r.c.opts.Core.Status(ctx, []string{t.Cluster}, true)
	var nf *api.ClusterNotFoundError
	if errors.As(err, &nf) {
		return true, true
	}
	if err != nil {
		return false, false
	}
	return len(cs) == 0 || cs[0].Status != api.ClusterUp, true
}

// check refreshes a task's cluster after its stream broke: lost when the cluster is gone or not UP, or its job
// does not answer; the job's outcome when it ended.
func (r *runner) check(t *Task) (Event, bool) {
	ctx, cancel := r.callCtx()
	defer cancel()
	lost := Event{Kind: ClusterLost, Place: t.Place}
	if down, _ := r.clusterDown(t); down {
		r.logf("cluster %s is lost", t.Cluster)
		return lost, true
	}
	j, err := r.c.opts.Core.Job(ctx, t.Cluster, t.ClusterJobID)
	if err != nil {
		r.logf("job %d on %s does not answer: %v", t.ClusterJobID, t.Cluster, err)
		return lost, true
	}
	if j.Status.IsTerminal() {
		return outcome(j, t.Place), true
	}
	return Event{}, false
}

// outcome is the policy's event for a job that ended on its cluster. A job that died without its own end
// (its driver lost, or cancelled on the cluster by hand) counts as a lost cluster.
func outcome(j api.Job, p Place) Event {
	code := 1
	if j.ExitCode != nil {
		code = *j.ExitCode
	}
	switch j.Status {
	case api.JobSucceeded:
		return Event{Kind: TaskExited, ExitCode: 0, Place: p}
	case api.JobStatus("FAILED"):
		return Event{Kind: TaskExited, ExitCode: code, Place: p}
	case api.JobStatus("FAILED_SETUP"):
		return Event{Kind: SetupFailed, ExitCode: code, Place: p}
	}
	return Event{Kind: ClusterLost, Place: p}
}
