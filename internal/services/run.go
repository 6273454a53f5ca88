package services

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/serve"
	"github.com/stix-run/stix/internal/spec"
)

// ReplicaIDEnv is set on every replica's task to its replica ID, as SkyServe sets it.
const ReplicaIDEnv = "SKYPILOT_SERVE_REPLICA_ID"

// replica is the runner's view of one replica.
type replica struct {
	row       ReplicaRow
	readiness serve.Readiness
	busy      bool               // being launched or torn down: not probed
	unwatch   context.CancelFunc // ends the watch of its cluster's nodes (watchNodes)
	terminate bool               // the user asked it down while it was launching: torn down once the launch returns
	purge     bool               // the user asked it down with --purge: forgotten once torn down, even if that failed
}

// event is what a launch, a probe round or a teardown reports back to the runner's loop.
type event struct {
	id       int
	launched *ReplicaRow // the launch ended with the cluster up (nil: failed, err says why)
	probed   *probeResult
	torn     bool              // the teardown ended (err: it failed)
	lost     *api.ClusterEvent // the replica's cluster lost a node (watchNodes)
	err      error
}

type probeResult struct {
	ok   bool
	dead api.ReplicaStatus // set when the replica's job or cluster is gone
	err  error
}

// runner runs one service while its controller holds the service's lease. Every state change happens on its
// loop; launches, probes and teardowns run in goroutines that report back with events.
type runner struct {
	c    *Controller
	name string

	ctx    context.Context
	cancel context.CancelFunc
	downCh chan struct{}
	once   sync.Once
	purge  atomic.Bool
	events chan event
	update chan struct{}
	// terminate carries `serve down NAME --replica-id N` to the loop.
	terminate chan terminateReq
	work      sync.WaitGroup

	row      *Row
	svc      *spec.ServiceSpec
	port     int
	lb       *serve.LoadBalancer
	as       *serve.Autoscaler
	replicas map[int]*replica
	queued   []int // replica IDs waiting for a launch slot
	inFlight int
	pushed   string // the replica set last pushed to the load balancer
	httpc    *http.Client
	logf     func(format string, args ...any)
	lbLog    *slog.Logger // the load balancer's log (`serve logs --load-balancer`)
}

func newRunner(ctx context.Context, c *Controller, name string) *runner {
	r := &runner{c: c, name: name, downCh: make(chan struct{}), events: make(chan event, 64), update: make(chan struct{}, 1), terminate: make(chan terminateReq), replicas: map[int]*replica{},
		httpc: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}}
	r.ctx, r.cancel = context.WithCancel(ctx)
	return r
}

// Run runs the service (leased.Runner).
func (r *runner) Run() { r.run() }

// updated tells the runner to look for a new version of its service.
func (r *runner) updated() {
	select {
	case r.update <- struct{}{}:
	default:
	}
}

// down asks the runner to tear the service down.
func (r *runner) down() { r.once.Do(func() { close(r.downCh) }) }

func (r *runner) call() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.ctx), r.c.opts.CallTimeout)
}

// openLog opens the service's controller log and its load balancer's (both rotating files); the function
// returned closes them, once the load balancer has stopped.
func (r *runner) openLog() func() {
	r.logf = func(string, ...any) {}
	r.lbLog = slog.New(slog.DiscardHandler)
	var closers []func() error
	if f, err := openRotating(r.c.logPath(r.name), maxLogSize); err == nil {
		r.logf = func(format string, args ...any) {
			fmt.Fprintf(f, "%s %s\n", r.c.opts.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
		}
		closers = append(closers, f.Close)
	}
	if f, err := openRotating(r.c.lbLogPath(r.name), maxLogSize); err == nil {
		r.lbLog = slog.New(slog.NewTextHandler(f, nil))
		closers = append(closers, f.Close)
	}
	return func() {
		for _, c := range closers {
			_ = c()
		}
	}
}

// run is the runner's life: set up the load balancer and autoscaler from the stored service, resume its
// replicas, then react to events, probe every ProbeInterval and decide every autoscaler interval.
func (r *runner) run() {
	defer r.cancel()
	defer r.openLog()()
	ctx, cancel := r.call()
	row, err := r.c.st.Get(ctx, r.name)
	cancel()
	if err != nil {
		return
	}
	r.row = row
	if row.Down {
		r.down()
	}
	ln := r.c.takeListener(r.name)
	if err := r.setup(ln); err != nil {
		r.logf("controller failed: %v", err)
		r.setStatus(api.ServiceControllerFailed, err.Error())
		if ln != nil {
			ln.Close()
		}
		select {
		case <-r.downCh:
			r.loadReplicas() // their clusters are torn down all the same
			r.teardown()
		case <-r.ctx.Done():
		}
		return
	}
	r.resumeReplicas()
	r.refreshStatus()
	r.decide()
	probe := time.NewTicker(r.c.opts.ProbeInterval)
	defer probe.Stop()
	decide := time.NewTimer(r.as.Interval())
	defer decide.Stop()
	for {
		select {
		case <-r.ctx.Done():
			r.work.Wait()
			return
		case <-r.downCh:
			r.teardown()
			return
		case ev := <-r.events:
			r.handle(ev)
		case <-r.update:
			r.reload()
		case req := <-r.terminate:
			r.terminateReplica(req)
		case <-probe.C:
			r.probeAll()
		case <-decide.C:
			r.decide()
			decide.Reset(r.as.Interval())
		}
	}
}

// setup reads the latest version's spec and starts the load balancer on the service's port (the listener
// ServeUp opened, or the recorded port again after a restart).
func (r *runner) setup(ln net.Listener) error {
	ts := r.row.Spec.Versions[r.row.Version]
	_, svc, port, err := parseService(ts)
	if err != nil {
		return err
	}
	r.svc, r.port = svc, port
	var opts serve.Options
	opts.Service, opts.Policy, opts.TargetQPSPerAccelerator = r.name, svc.Policy(), svc.TargetQPSPerAccelerator
	opts.Log = r.lbLog
	if svc.TLS != nil {
		if opts.TLS, err = serve.LoadTLS(svc.TLS.Certfile, svc.TLS.Keyfile); err != nil {
			return err
		}
	}
	if ln == nil {
		if ln, err = serve.Listen(r.c.opts.Host, r.row.LBPort); err != nil {
			return err
		}
	}
	if r.lb, err = serve.New(opts); err != nil {
		ln.Close()
		return err
	}
	r.work.Add(1)
	go func() {
		defer r.work.Done()
		_ = r.lb.Serve(r.ctx, ln, 5*time.Second)
	}()
	r.as = serve.NewAutoscaler(svc)
	if r.row.Autoscaler != "" {
		var s serve.AutoscalerState
		if json.Unmarshal([]byte(r.row.Autoscaler), &s) == nil {
			r.as.Restore(s)
		}
	}
	r.logf("load balancer on %s:%d, policy %s", r.c.opts.Host, r.row.LBPort, svc.Policy())
	return nil
}

// reload takes up a newer version of the service: the autoscaler plans for it (launching its replicas and
// retiring the old ones as the update mode says), the load balancer gets its policy, probes use its probe.
func (r *runner) reload() {
	ctx, cancel := r.call()
	row, err := r.c.st.Get(ctx, r.name)
	cancel()
	if err != nil || row.Version <= r.row.Version {
		return
	}
	task, svc, port, err := parseService(row.Spec.Versions[row.Version])
	if err != nil {
		r.logf("version %d: %v", row.Version, err)
		return
	}
	if old, _, _, err := parseService(r.row.Spec.Versions[r.row.Version]); err == nil && onlyServiceChanged(old, task) {
		// Same replicas, new service section: the running replicas become the new version's.
		for _, rep := range r.replicas {
			if rep.row.Version == r.row.Version && !serve.ReplicaStatus(rep.row.Status).Terminal() {
				rep.row.Version = row.Version
				r.save(rep)
			}
		}
		r.logf("version %d: only the service section changed; the running replicas are kept", row.Version)
	}
	if err := r.as.Update(r.c.opts.Now(), row.Version, svc, serve.UpdateMode(row.Spec.Mode)); err != nil {
		r.logf("version %d: %v", row.Version, err)
		return
	}
	if err := r.lb.SetPolicy(svc.Policy(), svc.TargetQPSPerAccelerator); err != nil {
		r.logf("version %d: load balancer: %v", row.Version, err)
	}
	r.row.Version, r.row.Spec = row.Version, row.Spec
	r.svc, r.port = svc, port
	r.logf("version %d: %s update", row.Version, row.Spec.Mode)
	r.decide()
}

// onlyServiceChanged reports whether two versions of a service's task differ only in their service section, and
// have no workdir or file mounts (whose contents may have changed without the task's text changing): then the
// running replicas serve the new version as they are, as SkyServe does.
func onlyServiceChanged(old, new *spec.Task) bool {
	if old.Workdir != nil || new.Workdir != nil || len(old.FileMounts) > 0 || len(new.FileMounts) > 0 {
		return false
	}
	a, b := *old, *new
	a.Service, b.Service = nil, nil
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// resumeReplicas loads the stored replicas: one being launched is launched again (the cluster of the same name
// is reused), one being torn down is torn down again, and the others are probed from now on.
func (r *runner) resumeReplicas() {
	now := r.c.opts.Now()
	for _, rep := range r.loadReplicas() {
		row := rep.row
		switch serve.ReplicaStatus(row.Status) {
		case serve.ReplicaPending, serve.ReplicaProvisioning:
			r.queued = append(r.queued, row.ID)
		case serve.ReplicaShuttingDown:
			r.tearDown(rep, serve.ReplicaShuttingDown)
		case serve.ReplicaReady, serve.ReplicaNotReady:
			// It was ready: a failing probe now is NOT_READY, not a failure of its initial delay.
			rep.readiness.FirstReady = now
			r.watchNodes(rep)
		case serve.ReplicaStarting:
			r.watchNodes(rep)
		}
	}
	r.launchQueued()
	r.pushLB()
}

// loadReplicas reads the stored replicas into the runner, in ID order.
func (r *runner) loadReplicas() []*replica {
	ctx, cancel := r.call()
	rows, err := r.c.st.Replicas(ctx, r.name)
	cancel()
	if err != nil {
		r.logf("read replicas: %v", err)
	}
	var out []*replica
	for _, row := range rows {
		rep := &replica{row: row}
		r.replicas[row.ID] = rep
		out = append(out, rep)
	}
	return out
}

// infos are the replicas as the autoscaler sees them.
func (r *runner) infos() []serve.ReplicaInfo {
	out := make([]serve.ReplicaInfo, 0, len(r.replicas))
	for _, id := range slices.Sorted(maps.Keys(r.replicas)) {
		rep := r.replicas[id]
		out = append(out, serve.ReplicaInfo{ID: id, Version: rep.row.Version, Status: serve.ReplicaStatus(rep.row.Status), Spot: rep.row.Spot})
	}
	return out
}

func (r *runner) activeVersions(infos []serve.ReplicaInfo) []int {
	return serve.ActiveVersions(infos, serve.UpdateMode(r.row.Spec.Mode), func(int) int { return max(r.svc.MinReplicas, 1) })
}

// decide feeds the autoscaler the load balancer's request counts and carries out its plan.
func (r *runner) decide() {
	now := r.c.opts.Now()
	r.as.Observe(r.lb.Drain())
	infos := r.infos()
	plan := r.as.Decide(now, infos, r.activeVersions(infos))
	if plan.Stopped != "" {
		r.logf("autoscaler stopped: %s", plan.Stopped)
	}
	for _, l := range plan.Launch {
		for range l.Count {
			r.newReplica(l.UseSpot)
		}
	}
	for _, id := range plan.Terminate {
		if rep := r.replicas[id]; rep != nil && !rep.busy {
			r.logf("replica %d: scaled down", id)
			r.tearDown(rep, serve.ReplicaShuttingDown)
		}
	}
	if b, err := json.Marshal(r.as.State()); err == nil {
		ctx, cancel := r.call()
		_ = r.c.st.SetAutoscaler(ctx, r.name, string(b))
		cancel()
	}
	r.launchQueued()
	r.refreshStatus()
}

// newReplica records a PENDING replica of the latest version and queues its launch.
func (r *runner) newReplica(useSpot *bool) {
	ctx, cancel := r.call()
	defer cancel()
	id, err := r.c.st.NextReplicaID(ctx, r.name)
	if err != nil {
		r.logf("new replica: %v", err)
		return
	}
	row := ReplicaRow{Service: r.name, ID: id, Version: r.row.Version, Status: api.ReplicaStatus(serve.ReplicaPending),
		Cluster: ReplicaCluster(r.name, id), LaunchedAt: r.c.opts.Now()}
	if useSpot != nil {
		row.Spot = *useSpot
	}
	r.replicas[id] = &replica{row: row}
	r.save(r.replicas[id])
	r.queued = append(r.queued, id)
}

// ReplicaCluster is the cluster of a service's replica, named as SkyServe names it: NAME-ID.
func ReplicaCluster(service string, id int) string { return service + "-" + strconv.Itoa(id) }

// launchQueued starts queued launches while fewer than MaxLaunches run.
func (r *runner) launchQueued() {
	for len(r.queued) > 0 && r.inFlight < r.c.opts.MaxLaunches {
		id := r.queued[0]
		r.queued = r.queued[1:]
		rep := r.replicas[id]
		if rep == nil {
			continue
		}
		rep.busy = true
		rep.row.Status = api.ReplicaStatus(serve.ReplicaProvisioning)
		r.save(rep)
		r.inFlight++
		r.logf("replica %d: launching cluster %s", id, rep.row.Cluster)
		row := rep.row
		var useSpot *bool
		if row.Spot {
			useSpot = &row.Spot
		}
		ts, port := r.row.Spec.Versions[row.Version], r.port
		r.work.Add(1)
		go func() {
			defer r.work.Done()
			got, err := r.launch(row, ts, port, useSpot)
			r.send(event{id: row.ID, launched: got, err: err})
		}()
	}
}

// launch launches one replica's cluster through the core (its full failover) and finds its endpoint: the head
// node's address and the service port.
func (r *runner) launch(row ReplicaRow, ts api.TaskSpec, port int, useSpot *bool) (*ReplicaRow, error) {
	ts.Env = maps.Clone(ts.Env)
	if ts.Env == nil {
		ts.Env = map[string]string{}
	}
	ts.Env[ReplicaIDEnv] = strconv.Itoa(row.ID)
	if useSpot != nil {
		ts.Overrides.UseSpot = useSpot
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.c.opts.LaunchTimeout)
	defer cancel()
	// A controller that died between the launch and recording it finds the replica PROVISIONING: when its
	// cluster is up with the task still running, the replica is adopted, not launched (and run) a second time.
	if !r.running(ctx, row.Cluster) {
		_, err := api.Wait(r.c.opts.Core.Launch(ctx, api.LaunchRequest{Task: ts,
			Options: api.LaunchOptions{ClusterName: row.Cluster, Command: fmt.Sprintf("stix serve up (service %s, replica %d)", r.name, row.ID)}}))
		if err != nil {
			return nil, err
		}
	}
	cs, err := r.c.opts.Core.Status(ctx, []string{row.Cluster}, false)
	if err != nil {
		return nil, err
	}
	if len(cs) != 1 || cs[0].HeadIP == "" {
		return nil, fmt.Errorf("cluster %s has no head address", row.Cluster)
	}
	row.Endpoint = r.endpoint(ctx, row.Cluster, cs[0].HeadIP, port)
	row.Infra, row.Resources = cs[0].Infra, cs[0].Resources
	row.LaunchedAt = cs[0].LaunchedAt
	return &row, nil
}

// endpoint is where the load balancer reaches a replica's service port: where the cluster's infra says the port
// is reached from outside (`status --endpoint`: a cloud VM's public address, a Kubernetes Service, a port Docker
// published), else the head node's own address (infra that cannot report endpoints).
func (r *runner) endpoint(ctx context.Context, cluster, headIP string, port int) string {
	eps, err := r.c.opts.Core.Endpoints(ctx, cluster, port)
	if ep := eps[port]; err == nil && ep != "" {
		if strings.Contains(ep, "://") {
			return ep
		}
		return "http://" + ep
	}
	return "http://" + net.JoinHostPort(headIP, strconv.Itoa(port))
}

// running reports whether a replica's cluster is UP with its latest job not ended.
func (r *runner) running(ctx context.Context, cluster string) bool {
	cs, err := r.c.opts.Core.Status(ctx, []string{cluster}, true)
	if err != nil || len(cs) != 1 || cs[0].Status != api.ClusterUp {
		return false
	}
	j, err := r.c.opts.Core.Job(ctx, cluster, 0)
	return err == nil && !j.Status.IsTerminal()
}

func (r *runner) send(ev event) {
	select {
	case r.events <- ev:
	case <-r.ctx.Done():
	}
}

// handle applies one event on the loop.
func (r *runner) handle(ev event) {
	rep := r.replicas[ev.id]
	if rep == nil {
		return
	}
	switch {
	case ev.probed != nil:
		if serve.ReplicaStatus(rep.row.Status).Terminal() {
			return // torn down while the probe was out (its node lost, or asked down): the teardown's event ends it
		}
		rep.busy = false
		r.observe(rep, *ev.probed)
	case ev.lost != nil:
		r.nodeLost(rep, *ev.lost)
	case ev.torn:
		r.tornDown(rep, ev.err)
	default: // a launch ended
		r.inFlight--
		rep.busy = false
		if ev.err != nil {
			r.logf("replica %d: launch failed: %v", ev.id, ev.err)
			if r.ctx.Err() != nil {
				return
			}
			if rep.terminate {
				r.tearDown(rep, serve.ReplicaShuttingDown)
			} else {
				r.tearDown(rep, serve.ReplicaFailedProvision)
			}
		} else if rep.terminate {
			rep.row = *ev.launched
			r.tearDown(rep, serve.ReplicaShuttingDown)
		} else {
			rep.row = *ev.launched
			rep.row.Status = api.ReplicaStatus(serve.ReplicaStarting)
			r.logf("replica %d: up at %s (%s)", ev.id, rep.row.Endpoint, rep.row.Infra)
			r.save(rep)
			r.watchNodes(rep)
		}
		r.launchQueued()
		r.refreshStatus()
	}
}

// probeAll probes every launched replica at once; each reports back as an event.
func (r *runner) probeAll() {
	for _, rep := range r.replicas {
		switch serve.ReplicaStatus(rep.row.Status) {
		case serve.ReplicaStarting, serve.ReplicaReady, serve.ReplicaNotReady:
		default:
			continue
		}
		if rep.busy || rep.row.Endpoint == "" {
			continue
		}
		rep.busy = true
		row, probe := rep.row, r.svc.ReadinessProbe
		r.work.Add(1)
		go func() {
			defer r.work.Done()
			res := r.probe(row, probe)
			r.send(event{id: row.ID, probed: &res})
		}()
	}
}

// probe sends the readiness probe; when it fails, it asks the core whether the replica's job still runs and
// its cluster is still up, so that a dead replica is replaced at once rather than after the probe's grace.
func (r *runner) probe(row ReplicaRow, p spec.ReadinessProbe) probeResult {
	err := serve.Probe(r.ctx, r.httpc, row.Endpoint, p)
	if err == nil {
		return probeResult{ok: true}
	}
	res := probeResult{err: err}
	ctx, cancel := r.call()
	defer cancel()
	if j, jerr := r.c.opts.Core.Job(ctx, row.Cluster, 0); jerr == nil && j.Status.IsTerminal() {
		res.dead = api.ReplicaStatus(serve.ReplicaFailed)
		res.err = fmt.Errorf("its job ended %s", j.Status)
	}
	if cs, serr := r.c.opts.Core.Status(ctx, []string{row.Cluster}, true); serr == nil && (len(cs) == 0 || cs[0].Status != api.ClusterUp) {
		res.dead = api.ReplicaStatus(serve.ReplicaPreempted)
		res.err = fmt.Errorf("its cluster is no longer UP")
	}
	return res
}

// observe applies one probe result: the readiness state machine, or the replica's end when it is dead.
func (r *runner) observe(rep *replica, res probeResult) {
	old := rep.row.Status
	status := serve.ReplicaStatus(res.dead)
	if status == "" {
		status = rep.readiness.Observe(res.ok, r.c.opts.Now(), time.Duration(r.svc.ReadinessProbe.InitialDelaySeconds*float64(time.Second)))
	}
	if api.ReplicaStatus(status) == old {
		return
	}
	if res.err != nil {
		r.logf("replica %d: %s: %v", rep.row.ID, status, res.err)
	} else {
		r.logf("replica %d: %s", rep.row.ID, status)
	}
	if status.Terminal() {
		r.tearDown(rep, status)
		r.decide() // a replacement at once, not at the next decision
		return
	}
	rep.row.Status = api.ReplicaStatus(status)
	r.save(rep)
	r.pushLB()
	r.refreshStatus()
	if status == serve.ReplicaReady && r.updating() {
		r.decide() // an update retires old replicas as new ones become ready, not at the next decision
	}
}

// updating reports whether replicas of an older version than the latest are still there.
func (r *runner) updating() bool {
	for _, rep := range r.replicas {
		if rep.row.Version < r.row.Version && !serve.ReplicaStatus(rep.row.Status).Terminal() {
			return true
		}
	}
	return false
}

// tearDown takes a replica out of the load balancer and tears its cluster down; status is what it shows
// meanwhile (SHUTTING_DOWN, or the failure that ended it).
func (r *runner) tearDown(rep *replica, status serve.ReplicaStatus) {
	if rep.unwatch != nil {
		rep.unwatch() // its own teardown is no news
	}
	rep.row.Status = api.ReplicaStatus(status)
	rep.busy = true
	r.save(rep)
	r.pushLB()
	r.refreshStatus()
	cluster := rep.row.Cluster
	id := rep.row.ID
	r.work.Add(1)
	go func() {
		defer r.work.Done()
		r.send(event{id: id, torn: true, err: r.downCluster(cluster)})
	}()
}

// downCluster tears a replica's cluster down; one that does not exist is already gone.
func (r *runner) downCluster(cluster string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), r.c.opts.DownTimeout)
	defer cancel()
	_, err := api.Wait(r.c.opts.Core.Down(ctx, cluster, false))
	var nf *api.ClusterNotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	return err
}

// tornDown ends a replica whose cluster is gone: scaled-down and preempted replicas are forgotten, failed ones
// stay in their failure state (shown by `serve status`), and one whose teardown failed is FAILED_CLEANUP.
func (r *runner) tornDown(rep *replica, err error) {
	rep.busy = false
	status := serve.ReplicaStatus(rep.row.Status)
	switch {
	case err != nil && !rep.purge:
		r.logf("replica %d: teardown failed: %v", rep.row.ID, err)
		rep.row.Status = api.ReplicaStatus(serve.ReplicaFailedCleanup)
		r.save(rep)
	case status == serve.ReplicaShuttingDown || status == serve.ReplicaPreempted || rep.purge:
		if err != nil {
			r.logf("replica %d: teardown failed: %v; forgotten all the same (--purge)", rep.row.ID, err)
		}
		delete(r.replicas, rep.row.ID)
		ctx, cancel := r.call()
		_ = r.c.st.DeleteReplica(ctx, r.name, rep.row.ID)
		cancel()
	}
	r.refreshStatus()
}

// pushLB gives the load balancer the ready replicas of the active versions, at once, when they changed.
func (r *runner) pushLB() {
	infos := r.infos()
	var set []serve.Replica
	for _, info := range serve.Routable(infos, r.activeVersions(infos)) {
		set = append(set, serve.Replica{ID: info.ID, URL: r.replicas[info.ID].row.Endpoint, Accelerator: info.Accelerator})
	}
	b, _ := json.Marshal(set)
	if string(b) == r.pushed {
		return
	}
	if err := r.lb.SetReplicas(set); err != nil {
		r.logf("load balancer: %v", err)
		return
	}
	r.pushed = string(b)
	r.logf("load balancer: %d ready replica(s)", len(set))
}

// refreshStatus records the service's state from its replicas'.
func (r *runner) refreshStatus() {
	var states []serve.ReplicaStatus
	for _, rep := range r.replicas {
		states = append(states, serve.ReplicaStatus(rep.row.Status))
	}
	st := api.ServiceStatus(serve.ServiceStatusOf(states))
	if st == r.row.Status {
		return
	}
	r.setStatus(st, "")
}

func (r *runner) setStatus(st api.ServiceStatus, msg string) {
	since := time.Time{}
	if st == api.ServiceReady {
		since = r.row.ReadySince
		if r.row.Status != api.ServiceReady || since.IsZero() {
			since = r.c.opts.Now()
		}
	}
	r.row.Status, r.row.ReadySince, r.row.Message = st, since, msg
	ctx, cancel := r.call()
	defer cancel()
	if err := r.c.st.SetStatus(ctx, r.name, st, since, msg); err != nil {
		r.logf("record status: %v", err)
	}
}

func (r *runner) save(rep *replica) {
	ctx, cancel := r.call()
	defer cancel()
	if err := r.c.st.PutReplica(ctx, rep.row); err != nil {
		r.logf("record replica %d: %v", rep.row.ID, err)
	}
}

// teardown tears the whole service down: the load balancer stops, launches are abandoned, every replica's
// cluster is torn down, then the service is forgotten (or FAILED_CLEANUP when a teardown failed, unless purged).
func (r *runner) teardown() {
	r.logf("shutting down")
	r.setStatus(api.ServiceShuttingDown, "")
	if r.lb != nil {
		_ = r.lb.SetReplicas(nil)
	}
	// Launches and probes end with the runner's context; teardowns below use their own.
	r.cancel()
	r.work.Wait()
	var (
		mu     sync.Mutex
		failed []string
		wg     sync.WaitGroup
	)
	for _, rep := range r.replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.downCluster(rep.row.Cluster); err != nil {
				mu.Lock()
				failed = append(failed, fmt.Sprintf("%s: %v", rep.row.Cluster, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), r.c.opts.CallTimeout)
	defer cancel()
	if len(failed) > 0 && !r.purge.Load() {
		msg := fmt.Sprintf("tearing down replicas failed: %v; retry with `stix serve down %s`, or forget it with --purge", failed, r.name)
		r.logf("%s", msg)
		r.row.Status = api.ServiceFailedCleanup
		_ = r.c.st.SetStatus(ctx, r.name, api.ServiceFailedCleanup, time.Time{}, msg)
		return
	}
	if err := r.c.forget(ctx, r.name); err != nil {
		r.logf("forget service: %v", err)
	}
	r.logf("terminated")
}
