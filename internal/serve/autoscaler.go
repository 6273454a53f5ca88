package serve

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/spec"
)

// SkyServe's autoscaler timing.
const (
	// DecisionInterval is how often the controller asks for a decision (it also asks in between: after a
	// replica fails, and during an update when a replica becomes ready).
	DecisionInterval = 20 * time.Second
	// NoReplicaDecisionInterval is the interval while the target is zero, so a service scaled to zero wakes fast.
	NoReplicaDecisionInterval = 5 * time.Second
)

// UpdateMode is how `serve update` replaces the replicas of older versions.
type UpdateMode string

// SkyServe's update modes.
const (
	// UpdateRolling retires old replicas as new ones become ready; traffic goes to both meanwhile.
	UpdateRolling UpdateMode = "rolling"
	// UpdateBlueGreen keeps traffic on the old version until min_replicas new replicas are ready, then switches.
	UpdateBlueGreen UpdateMode = "blue_green"
)

// ReplicaInfo is what the autoscaler needs to know of a replica.
type ReplicaInfo struct {
	ID          int
	Version     int
	Status      ReplicaStatus
	Spot        bool
	Accelerator string // of its launched resources, "" before it has any
}

// Launch asks for Count new replicas of the latest version; UseSpot nil means as the task's resources say,
// otherwise it overrides use_spot (spot with on-demand fallback).
type Launch struct {
	Count   int
	UseSpot *bool
}

// Plan is one decision: what to launch and which replicas to terminate (IDs, in the order to do it). Stopped,
// when set, says why the autoscaler decided nothing.
type Plan struct {
	Launch    []Launch
	Terminate []int
	Target    int     // replicas wanted, num_overprovision included
	QPS       float64 // over the last QPSWindow
	Stopped   string
}

// Autoscaler is SkyServe's request-rate autoscaler with its variants (on-demand fallback, per-accelerator
// targets). It does no I/O and reads no clock: the controller feeds it the load balancer's request counts
// (Observe) and asks for a Plan every Interval, passing the time.
type Autoscaler struct {
	min, max      int
	overprovision int
	qps           *float64           // target QPS per replica; nil: fixed size
	perAcc        map[string]float64 // target QPS per accelerator (instance-aware)
	baseOnDemand  int
	dynamic       bool
	fallback      bool
	// upDelay (downDelay) is how long the raw target must have stayed above (below) the current one before
	// the target follows it: upscale_delay_seconds (downscale_delay_seconds).
	upDelay, downDelay time.Duration

	target int // without overprovision
	// upSince (downSince) is when the raw target went above (below) the current one, zero while it is not;
	// last is the time of the previous decision.
	upSince, downSince, last time.Time
	latestVersion            int
	latestEverReady          int
	mode                     UpdateMode
	window                   RequestWindow
}

// InitialVersion is the version of a service's first spec.
const InitialVersion = 1

// NewAutoscaler starts an autoscaler for a service's first version, its target at min_replicas.
func NewAutoscaler(s *spec.ServiceSpec) *Autoscaler {
	a := &Autoscaler{latestVersion: InitialVersion, latestEverReady: InitialVersion - 1, mode: UpdateRolling}
	a.configure(s)
	a.target = a.min
	return a
}

func (a *Autoscaler) configure(s *spec.ServiceSpec) {
	a.min, a.max = s.MinReplicas, s.MaxReplicasOrMin()
	a.overprovision = 0
	if s.NumOverprovision != nil {
		a.overprovision = *s.NumOverprovision
	}
	a.qps, a.perAcc = s.TargetQPSPerReplica, s.TargetQPSPerAccelerator
	a.fallback = s.OndemandFallback()
	a.baseOnDemand = 0
	if s.BaseOndemandFallbackReplicas != nil {
		a.baseOnDemand = *s.BaseOndemandFallbackReplicas
	}
	a.dynamic = s.DynamicOndemandFallback != nil && *s.DynamicOndemandFallback
	a.upDelay = time.Duration(s.Upscale() * float64(time.Second))
	a.downDelay = time.Duration(s.Downscale() * float64(time.Second))
}

// Update switches to a new version's spec (`serve update`). The target is recomputed at once, without
// hysteresis, so the service resizes right after an update.
func (a *Autoscaler) Update(now time.Time, version int, s *spec.ServiceSpec, mode UpdateMode) error {
	if version <= a.latestVersion {
		return fmt.Errorf("version %d is not newer than the current version %d", version, a.latestVersion)
	}
	a.latestVersion, a.mode = version, mode
	a.configure(s)
	a.target = a.requestRateTarget(a.window.QPS(now))
	a.upSince, a.downSince = time.Time{}, time.Time{}
	return nil
}

// Observe adds the load balancer's request counts (LoadBalancer.Drain).
func (a *Autoscaler) Observe(buckets []Bucket) { a.window.Add(buckets) }

// Target is the number of replicas wanted, num_overprovision included.
func (a *Autoscaler) Target() int { return a.target + a.overprovision }

// Interval is when to ask for the next Plan.
func (a *Autoscaler) Interval() time.Duration {
	if a.Target() == 0 {
		return NoReplicaDecisionInterval
	}
	return DecisionInterval
}

func (a *Autoscaler) clip(n int) int { return max(a.min, min(a.max, n)) }

// requestRateTarget is ceil(qps / target_qps_per_replica), clipped to [min, max]; min_replicas without a target.
func (a *Autoscaler) requestRateTarget(qps float64) int {
	switch {
	case a.qps != nil && *a.qps > 0:
		return a.clip(int(math.Ceil(qps / *a.qps)))
	case len(a.perAcc) > 0:
		return a.clip(int(math.Ceil(qps / maxValue(a.perAcc))))
	}
	return a.clip(a.min)
}

// hysteresis moves the target to raw only once raw has stayed above (below) it for the upscale (downscale)
// delay of the caller's clock, however many decisions were asked for meanwhile (the controller also decides
// after a failure and during an update); a decision at the target restarts the wait, and from zero the target
// moves at once. The condition counts from the decision before the first one that saw it (at most one
// DecisionInterval back), as SkyServe's counter of 20 s decisions does: at the regular cadence the target moves
// after delay / 20 s decisions, as there.
func (a *Autoscaler) hysteresis(now time.Time, raw int) {
	start := now.Add(-DecisionInterval)
	if a.last.After(start) && !a.last.After(now) {
		start = a.last
	}
	a.last = now
	switch {
	case a.target == 0:
		a.target = raw
		a.upSince, a.downSince = time.Time{}, time.Time{}
	case raw > a.target:
		a.downSince = time.Time{}
		if a.upSince.IsZero() {
			a.upSince = start
		}
		if now.Sub(a.upSince) >= a.upDelay {
			a.upSince, a.target = time.Time{}, raw
		}
	case raw < a.target:
		a.upSince = time.Time{}
		if a.downSince.IsZero() {
			a.downSince = start
		}
		if now.Sub(a.downSince) >= a.downDelay {
			a.downSince, a.target = time.Time{}, raw
		}
	default:
		a.upSince, a.downSince = time.Time{}, time.Time{}
	}
}

// Decide makes one decision at time now, from every replica of the service (all versions, terminal ones
// included) and the versions the load balancer serves (ActiveVersions).
func (a *Autoscaler) Decide(now time.Time, replicas []ReplicaInfo, activeVersions []int) Plan {
	qps := a.window.QPS(now)
	var latest []ReplicaInfo
	for _, r := range replicas {
		if r.Version == a.latestVersion {
			if r.Status == ReplicaReady {
				a.latestEverReady = a.latestVersion
			}
			if !r.Status.Terminal() {
				latest = append(latest, r)
			}
		}
	}
	if a.latestEverReady < a.latestVersion {
		for _, r := range replicas {
			if r.Version == a.latestVersion && r.Status.UnrecoverableFailure() {
				// Relaunching a service that fails on its own would fail and relaunch forever.
				return Plan{Target: a.Target(), QPS: qps, Stopped: fmt.Sprintf(
					"replica %d of version %d is %s and no replica of that version was ever ready", r.ID, r.Version, r.Status)}
			}
		}
	}
	p := Plan{QPS: qps, Terminate: a.outdated(replicas, activeVersions)}
	switch {
	case a.fallback:
		a.hysteresis(now, a.requestRateTarget(qps))
		a.fallbackPlan(&p, latest)
	case len(a.perAcc) > 0:
		a.hysteresis(now, a.instanceAwareTarget(qps, replicas, latest))
		a.sizePlan(&p, latest, a.scaleDownQPS)
	default:
		a.hysteresis(now, a.requestRateTarget(qps))
		a.sizePlan(&p, latest, nil)
	}
	p.Target = a.Target()
	return p
}

// sizePlan launches or terminates replicas of the latest version to reach the target.
func (a *Autoscaler) sizePlan(p *Plan, latest []ReplicaInfo, qpsOf func(ReplicaInfo) float64) {
	switch target := a.Target(); {
	case len(latest) < target:
		p.Launch = append(p.Launch, Launch{Count: target - len(latest)})
	case len(latest) > target:
		p.Terminate = append(p.Terminate, scaleDownOrder(len(latest)-target, latest, qpsOf)...)
	}
}

// fallbackPlan sizes spot and on-demand replicas apart: base_ondemand_fallback_replicas on-demand ones always,
// spot for the rest, and with dynamic_ondemand_fallback one on-demand replica for each spot replica wanted but
// not ready (never for the overprovisioned ones).
func (a *Autoscaler) fallbackPlan(p *Plan, latest []ReplicaInfo) {
	var spot, onDemand []ReplicaInfo
	readySpot := 0
	for _, r := range latest {
		if r.Spot {
			spot = append(spot, r)
			if r.Status == ReplicaReady {
				readySpot++
			}
		} else {
			onDemand = append(onDemand, r)
		}
	}
	wantSpot := max(0, a.Target()-a.baseOnDemand)
	switch {
	case len(spot) < wantSpot:
		p.Launch = append(p.Launch, Launch{Count: wantSpot - len(spot), UseSpot: boolPtr(true)})
	case len(spot) > wantSpot:
		p.Terminate = append(p.Terminate, scaleDownOrder(len(spot)-wantSpot, spot, nil)...)
	}
	wantOnDemand := a.baseOnDemand
	if a.dynamic {
		wantOnDemand += max(0, wantSpot-readySpot)
	}
	wantOnDemand = min(wantOnDemand, a.target)
	switch {
	case len(onDemand) < wantOnDemand:
		p.Launch = append(p.Launch, Launch{Count: wantOnDemand - len(onDemand), UseSpot: boolPtr(false)})
	case len(onDemand) > wantOnDemand:
		p.Terminate = append(p.Terminate, scaleDownOrder(len(onDemand)-wantOnDemand, onDemand, nil)...)
	}
}

func boolPtr(b bool) *bool { return &b }

// outdated picks the replicas of older versions to retire. Rolling: all of them once the latest version has
// Target ready replicas, else as many as the ready new ones replace (the earliest in start-up first).
// Blue-green: every replica older than the oldest version the load balancer serves.
func (a *Autoscaler) outdated(replicas []ReplicaInfo, activeVersions []int) []int {
	if a.mode == UpdateBlueGreen {
		if len(activeVersions) == 0 {
			return nil
		}
		oldest := activeVersions[0]
		for _, v := range activeVersions {
			oldest = min(oldest, v)
		}
		var ids []int
		for _, r := range replicas {
			if r.Version < oldest && !r.Status.Terminal() {
				ids = append(ids, r.ID)
			}
		}
		return ids
	}
	readyNew := 0
	var old []ReplicaInfo
	for _, r := range replicas {
		switch {
		case r.Version == a.latestVersion && r.Status == ReplicaReady:
			readyNew++
		case r.Version != a.latestVersion && !r.Status.Terminal():
			old = append(old, r)
		}
	}
	keep := max(0, a.Target()-readyNew)
	return scaleDownOrder(max(0, len(old)-keep), old, nil)
}

// scaleDownOrder picks n replicas to terminate, SkyServe's order: the earliest in start-up first (PENDING, then
// PROVISIONING, STARTING, NOT_READY, READY), then (instance-aware) the lowest target QPS, then the oldest
// version, then the highest replica ID (the most recently launched).
func scaleDownOrder(n int, replicas []ReplicaInfo, qpsOf func(ReplicaInfo) float64) []int {
	if n <= 0 {
		return nil
	}
	rs := append([]ReplicaInfo(nil), replicas...)
	sort.SliceStable(rs, func(i, j int) bool {
		ri, rj := rs[i], rs[j]
		if a, b := ri.Status.scaleDownRank(), rj.Status.scaleDownRank(); a != b {
			return a < b
		}
		if qpsOf != nil {
			if a, b := qpsOf(ri), qpsOf(rj); a != b {
				return a < b
			}
		}
		if ri.Version != rj.Version {
			return ri.Version < rj.Version
		}
		return ri.ID > rj.ID
	})
	ids := make([]int, 0, n)
	for _, r := range rs {
		if len(ids) == n {
			break
		}
		if !r.Status.Terminal() {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// accQPS is a replica's target QPS by its accelerator; unknown accelerators count as the smallest target.
func (a *Autoscaler) accQPS(acc string) float64 {
	if q, ok := lookupQPS(a.perAcc, acc); ok {
		return q
	}
	return minValue(a.perAcc)
}

func (a *Autoscaler) scaleDownQPS(r ReplicaInfo) float64 { return a.accQPS(r.Accelerator) }

// instanceAwareTarget sizes by what the replicas can serve: while the load exceeds the capacity of the live
// replicas, add enough of the largest accelerator to cover the excess; below it, keep the fewest ready
// replicas (largest first) whose capacity exceeds the load.
func (a *Autoscaler) instanceAwareTarget(qps float64, all, latest []ReplicaInfo) int {
	capacity := 0.0
	var ready []float64
	for _, r := range all {
		switch r.Status {
		case ReplicaReady:
			ready = append(ready, a.accQPS(r.Accelerator))
			capacity += a.accQPS(r.Accelerator)
		case ReplicaStarting, ReplicaProvisioning:
			capacity += a.accQPS(r.Accelerator)
		}
	}
	if capacity <= 0 {
		return a.clip(a.min)
	}
	if qps >= capacity {
		return a.clip(len(latest) + int(math.Ceil((qps-capacity)/maxValue(a.perAcc))))
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(ready)))
	if len(ready) == 0 {
		ready = []float64{maxValue(a.perAcc)}
	}
	n, sum := 0, 0.0
	for _, q := range ready {
		n++
		sum += q
		if sum > qps {
			break
		}
	}
	return a.clip(n)
}

// lookupQPS finds an accelerator's target: the exact key, else a key whose name (before ":count") matches.
func lookupQPS(perAcc map[string]float64, acc string) (float64, bool) {
	if q, ok := perAcc[acc]; ok {
		return q, true
	}
	keys := make([]string, 0, len(perAcc))
	for k := range perAcc {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a stable answer when two keys share a name
	for _, k := range keys {
		if name, _, _ := strings.Cut(k, ":"); name == acc {
			return perAcc[k], true
		}
	}
	return 0, false
}

func maxValue(m map[string]float64) float64 {
	out := 0.0
	for _, v := range m {
		out = max(out, v)
	}
	return out
}

func minValue(m map[string]float64) float64 {
	out := math.Inf(1)
	for _, v := range m {
		out = min(out, v)
	}
	if math.IsInf(out, 1) {
		return 1
	}
	return out
}

// ActiveVersions are the versions the load balancer serves. Rolling: every version with a ready replica.
// Blue-green: the newest version with at least its min_replicas ready (minReplicas(version)); until one has,
// the oldest with a ready replica.
func ActiveVersions(replicas []ReplicaInfo, mode UpdateMode, minReplicas func(version int) int) []int {
	ready := map[int]int{}
	for _, r := range replicas {
		if r.Status == ReplicaReady {
			ready[r.Version]++
		}
	}
	versions := make([]int, 0, len(ready))
	for v := range ready {
		versions = append(versions, v)
	}
	sort.Ints(versions)
	if mode != UpdateBlueGreen || len(versions) == 0 {
		return versions
	}
	for i := len(versions) - 1; i >= 0; i-- {
		if v := versions[i]; ready[v] >= minReplicas(v) {
			return []int{v}
		}
	}
	return versions[:1]
}

// Routable are the ready replicas of the active versions: what the controller pushes to the load balancer.
func Routable(replicas []ReplicaInfo, activeVersions []int) []ReplicaInfo {
	var out []ReplicaInfo
	for _, r := range replicas {
		if r.Status != ReplicaReady {
			continue
		}
		for _, v := range activeVersions {
			if r.Version == v {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// AutoscalerState is what a restarted controller needs to carry on where the last one stopped (SkyServe keeps
// the request timestamps and the latest version ever ready): make an Autoscaler from the latest version's spec,
// then Restore.
type AutoscalerState struct {
	Target int `json:"target"`
	// UpSince, DownSince and Last are the hysteresis' times (Autoscaler.hysteresis); zero when unset.
	UpSince         time.Time  `json:"up_since,omitzero"`
	DownSince       time.Time  `json:"down_since,omitzero"`
	Last            time.Time  `json:"last,omitzero"`
	LatestVersion   int        `json:"latest_version"`
	LatestEverReady int        `json:"latest_ever_ready"`
	Mode            UpdateMode `json:"mode"`
	Requests        []Bucket   `json:"requests,omitempty"`
}

// State returns the autoscaler's state, to be saved.
func (a *Autoscaler) State() AutoscalerState {
	return AutoscalerState{Target: a.target, UpSince: a.upSince, DownSince: a.downSince, Last: a.last, LatestVersion: a.latestVersion,
		LatestEverReady: a.latestEverReady, Mode: a.mode, Requests: append([]Bucket(nil), a.window.buckets...)}
}

// Restore puts back a saved state.
func (a *Autoscaler) Restore(s AutoscalerState) {
	a.target, a.upSince, a.downSince, a.last = s.Target, s.UpSince, s.DownSince, s.Last
	a.latestVersion, a.latestEverReady, a.mode = s.LatestVersion, s.LatestEverReady, s.Mode
	a.window = RequestWindow{}
	a.window.Add(s.Requests)
}
