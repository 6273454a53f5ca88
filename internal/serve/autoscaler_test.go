package serve

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/spec"
)

// service loads a service section the way `serve up` would.
func service(t *testing.T, yaml string) *spec.ServiceSpec {
	t.Helper()
	p, err := spec.Load("svc.yaml", []byte("service:\n"+yaml+"run: x\n"), spec.LoadOptions{})
	if err != nil {
		t.Fatalf("load service: %v", err)
	}
	return p.Tasks[0].Service
}

var t0 = time.Unix(1_000_000, 0)

// traffic spreads n requests evenly over the window that ends at now.
func traffic(now time.Time, n int) []Bucket {
	var out []Bucket
	for i := 0; i < n; i++ {
		out = append(out, Bucket{Second: now.Unix() - int64(i%60), Count: 1})
	}
	return out
}

func ready(ids ...int) []ReplicaInfo {
	var out []ReplicaInfo
	for _, id := range ids {
		out = append(out, ReplicaInfo{ID: id, Version: 1, Status: ReplicaReady})
	}
	return out
}

func TestTargetFollowsQPS(t *testing.T) {
	t.Parallel()
	policy := "  replica_policy:\n    min_replicas: 1\n    max_replicas: 5\n    target_qps_per_replica: 2\n    upscale_delay_seconds: 0\n    downscale_delay_seconds: 0\n"
	tests := []struct {
		name     string
		extra    string
		requests int // in the last minute
		target   int
	}{
		{"idle stays at min", "", 0, 1},
		{"1 qps fits one replica", "", 60, 1},
		{"2 qps fits one replica exactly", "", 120, 1},
		{"just over 2 qps needs two", "", 121, 2},
		{"clipped to max", "", 6000, 5},
		{"overprovision on top", "    num_overprovision: 2\n", 121, 4},
		{"overprovision on top of max", "    num_overprovision: 2\n", 6000, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := NewAutoscaler(service(t, policy+tt.extra))
			a.Observe(traffic(t0, tt.requests))
			p := a.Decide(t0, ready(1), []int{1})
			if p.Target != tt.target {
				t.Errorf("target = %d (qps %.2f), want %d", p.Target, p.QPS, tt.target)
			}
			if want := tt.target - 1; want > 0 && (len(p.Launch) != 1 || p.Launch[0].Count != want || p.Launch[0].UseSpot != nil) {
				t.Errorf("launch = %+v, want %d as the task says", p.Launch, want)
			}
		})
	}
}

func TestQPSWindowIsSixtySeconds(t *testing.T) {
	t.Parallel()
	a := NewAutoscaler(service(t, "  replica_policy:\n    min_replicas: 1\n    max_replicas: 5\n    target_qps_per_replica: 1\n"))
	a.Observe([]Bucket{{t0.Unix() - 60, 600}, {t0.Unix() - 59, 60}, {t0.Unix(), 60}})
	if p := a.Decide(t0, ready(1), nil); p.QPS != 2 {
		t.Errorf("qps = %v, want 2 (the bucket 60 s old is out of the window)", p.QPS)
	}
	if p := a.Decide(t0.Add(59*time.Second), ready(1), nil); p.QPS != 1 {
		t.Errorf("qps 59 s later = %v, want 1", p.QPS)
	}
	if p := a.Decide(t0.Add(time.Minute), ready(1), nil); p.QPS != 0 {
		t.Errorf("qps a minute later = %v, want 0", p.QPS)
	}
}

// TestHysteresis: the target moves only after the load has stayed above (below) it for the upscale (downscale)
// delay, counted in 20 s decisions; a decision the other way restarts the count.
func TestHysteresis(t *testing.T) {
	t.Parallel()
	a := NewAutoscaler(service(t, "  replica_policy:\n    min_replicas: 1\n    max_replicas: 4\n    target_qps_per_replica: 1\n    upscale_delay_seconds: 60\n    downscale_delay_seconds: 100\n"))
	now := t0
	step := func(requestsPerMinute int) int {
		now = now.Add(DecisionInterval)
		// A third of a minute's worth of requests, over the 20 s since the last decision.
		for i := 0; i < requestsPerMinute/3; i++ {
			a.Observe([]Bucket{{Second: now.Unix() - int64(i%20), Count: 1}})
		}
		return a.Decide(now, ready(1, 2, 3, 4), []int{1}).Target
	}
	// The window fills over three decisions: 1 qps, 2, then 3; raw targets 1, 2, 3, 3: the third decision
	// above the target (the fourth) moves it.
	var got []int
	for i := 0; i < 6; i++ {
		got = append(got, step(180))
	}
	if want := []int{1, 1, 1, 3, 3, 3}; !reflect.DeepEqual(got, want) {
		t.Errorf("scaling up: targets %v, want %v", got, want)
	}
	got = nil
	for i := 0; i < 8; i++ {
		got = append(got, step(0))
	}
	// Down after 5 decisions below (100 s / 20 s): raw targets 2, 1, 1, 1, 1.
	if want := []int{3, 3, 3, 3, 1, 1, 1, 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("scaling down: targets %v, want %v", got, want)
	}
	// A decision at the target in between restarts the count: raw targets 1, 2, 2, 1, 1, 2, 3, 3.
	got = nil
	for _, rpm := range []int{180, 180, 0, 0, 180, 180, 180, 180} {
		got = append(got, step(rpm))
	}
	if want := []int{1, 1, 1, 1, 1, 1, 1, 3}; !reflect.DeepEqual(got, want) {
		t.Errorf("flapping: targets %v, want %v", got, want)
	}
}

// TestHysteresisIsTime: the delays are time on the caller's clock, not a count of decisions. The controller
// also decides after a replica fails and during an update; those extra decisions neither hasten a move (the
// old counter moved after delay / 20 s decisions, however close together) nor restart the wait. Each row is a
// series of decisions (seconds after the first) under a steady load of rate requests per second, with the
// targets they gave.
func TestHysteresisIsTime(t *testing.T) {
	t.Parallel()
	const policy = "  replica_policy:\n    min_replicas: 1\n    max_replicas: 4\n    target_qps_per_replica: 1\n    upscale_delay_seconds: 60\n    downscale_delay_seconds: 100\n"
	tests := []struct {
		name    string
		start   int // the target before the first decision (reached under a load of as many qps)
		rate    int // requests per second from then on
		at      []int
		targets []int
	}{
		{"regular cadence: up after 60 s (three decisions)", 1, 3, []int{20, 40, 60, 80}, []int{1, 1, 3, 3}},
		{"extra decisions do not hasten an upscale", 1, 3, []int{20, 21, 22, 23, 24, 25}, []int{1, 1, 1, 1, 1, 1}},
		{"an extra decision does not restart the upscale wait", 1, 3, []int{20, 40, 41, 60}, []int{1, 1, 1, 3}},
		{"upscale after the delay, whatever the cadence", 1, 3, []int{20, 25, 30, 35, 50, 60}, []int{1, 1, 1, 1, 1, 3}},
		{"regular cadence: down after 100 s (five decisions below)", 3, 1, []int{20, 40, 60, 80, 100, 120}, []int{3, 3, 3, 3, 3, 1}},
		{"extra decisions do not hasten a downscale", 3, 1, []int{20, 40, 41, 42, 43, 44, 45, 46}, []int{3, 3, 3, 3, 3, 3, 3, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := NewAutoscaler(service(t, policy))
			// The start target, reached under a load of tt.start qps over the minute before t0.
			for s := int64(-59); s <= 0; s++ {
				a.Observe([]Bucket{{Second: t0.Unix() + s, Count: int64(tt.start)}})
			}
			a.Restore(AutoscalerState{Target: tt.start, LatestVersion: InitialVersion, Mode: UpdateRolling, Requests: a.State().Requests})
			a.Decide(t0, ready(1, 2, 3, 4), []int{1})
			last := int64(0)
			var got []int
			for _, at := range tt.at {
				for s := last + 1; s <= int64(at); s++ {
					a.Observe([]Bucket{{Second: t0.Unix() + s, Count: int64(tt.rate)}})
				}
				last = int64(at)
				got = append(got, a.Decide(t0.Add(time.Duration(at)*time.Second), ready(1, 2, 3, 4), []int{1}).Target)
			}
			if !reflect.DeepEqual(got, tt.targets) {
				t.Errorf("targets %v at %v s, want %v", got, tt.at, tt.targets)
			}
		})
	}
}

func TestScaleToAndFromZero(t *testing.T) {
	t.Parallel()
	a := NewAutoscaler(service(t, "  replica_policy:\n    min_replicas: 0\n    max_replicas: 3\n    target_qps_per_replica: 1\n    downscale_delay_seconds: 40\n"))
	if p := a.Decide(t0, nil, nil); p.Target != 0 || len(p.Launch) != 0 || a.Interval() != NoReplicaDecisionInterval {
		t.Fatalf("idle at zero: %+v, interval %v", p, a.Interval())
	}
	// One request wakes it at once (no upscale delay from zero).
	a.Observe([]Bucket{{t0.Unix() + 3, 1}})
	p := a.Decide(t0.Add(5*time.Second), nil, nil)
	if p.Target != 1 || !reflect.DeepEqual(p.Launch, []Launch{{Count: 1}}) || a.Interval() != DecisionInterval {
		t.Fatalf("woken: %+v, interval %v", p, a.Interval())
	}
	// Once the request leaves the window, it goes back to zero after the downscale delay (two decisions).
	now := t0.Add(2 * time.Minute)
	a.Decide(now, ready(1), []int{1})
	p = a.Decide(now.Add(DecisionInterval), ready(1), []int{1})
	if p.Target != 0 || !reflect.DeepEqual(p.Terminate, []int{1}) {
		t.Errorf("back to zero: %+v", p)
	}
}

func TestScaleDownOrder(t *testing.T) {
	t.Parallel()
	replicas := []ReplicaInfo{
		{ID: 1, Version: 1, Status: ReplicaReady},
		{ID: 2, Version: 1, Status: ReplicaReady},
		{ID: 3, Version: 1, Status: ReplicaStarting},
		{ID: 4, Version: 1, Status: ReplicaProvisioning},
		{ID: 5, Version: 1, Status: ReplicaPending},
		{ID: 6, Version: 1, Status: ReplicaNotReady},
		{ID: 7, Version: 1, Status: ReplicaFailed},
		{ID: 8, Version: 1, Status: ReplicaProvisioning},
	}
	tests := []struct {
		n    int
		want []int
	}{
		{1, []int{5}},
		{3, []int{5, 8, 4}}, // same state: the most recently launched (highest ID) first
		{6, []int{5, 8, 4, 3, 6, 2}},
		{9, []int{5, 8, 4, 3, 6, 2, 1}}, // never a failed one
	}
	for _, tt := range tests {
		if got := scaleDownOrder(tt.n, replicas, nil); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("scale down %d: %v, want %v", tt.n, got, tt.want)
		}
	}
	// Older versions go before newer ones in the same state.
	mixed := []ReplicaInfo{{ID: 1, Version: 2, Status: ReplicaReady}, {ID: 2, Version: 1, Status: ReplicaReady}}
	if got := scaleDownOrder(1, mixed, nil); !reflect.DeepEqual(got, []int{2}) {
		t.Errorf("by version: %v", got)
	}
	// Through Decide: a fixed-size service shrunk by an update keeps its ready replicas.
	a := NewAutoscaler(service(t, "  replicas: 2\n"))
	p := a.Decide(t0, replicas, []int{1})
	if !reflect.DeepEqual(p.Terminate, []int{5, 8, 4, 3, 6}) {
		t.Errorf("fixed size 2 from 7 live replicas: terminate %v", p.Terminate)
	}
}

func TestOndemandFallback(t *testing.T) {
	t.Parallel()
	spot := func(id int, s ReplicaStatus) ReplicaInfo {
		return ReplicaInfo{ID: id, Version: 1, Status: s, Spot: true}
	}
	onDemand := func(id int, s ReplicaStatus) ReplicaInfo { return ReplicaInfo{ID: id, Version: 1, Status: s} }
	tests := []struct {
		name     string
		policy   string
		replicas []ReplicaInfo
		launch   string // "spot:N od:N"
		stop     []int
	}{
		{"base on-demand plus spot", "    min_replicas: 3\n    base_ondemand_fallback_replicas: 1\n", nil, "spot:2 od:1", nil},
		{"base covers everything", "    min_replicas: 1\n    base_ondemand_fallback_replicas: 2\n", nil, "spot:0 od:1", nil},
		{"dynamic: spot not ready yet is backed by on-demand", "    min_replicas: 2\n    dynamic_ondemand_fallback: true\n",
			[]ReplicaInfo{spot(1, ReplicaProvisioning), spot(2, ReplicaStarting)}, "spot:0 od:2", nil},
		{"dynamic: ready spot retires the on-demand backup", "    min_replicas: 2\n    dynamic_ondemand_fallback: true\n",
			[]ReplicaInfo{spot(1, ReplicaReady), spot(2, ReplicaReady), onDemand(3, ReplicaReady), onDemand(4, ReplicaStarting)}, "spot:0 od:0", []int{4, 3}},
		{"dynamic: a preempted spot replica is replaced and backed", "    min_replicas: 2\n    dynamic_ondemand_fallback: true\n",
			[]ReplicaInfo{spot(1, ReplicaReady), spot(2, ReplicaPreempted)}, "spot:1 od:1", nil},
		{"dynamic with base", "    min_replicas: 3\n    base_ondemand_fallback_replicas: 1\n    dynamic_ondemand_fallback: true\n",
			[]ReplicaInfo{spot(1, ReplicaReady)}, "spot:1 od:2", nil},
		{"no on-demand for overprovisioned replicas", "    min_replicas: 1\n    num_overprovision: 2\n    dynamic_ondemand_fallback: true\n",
			nil, "spot:3 od:1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := NewAutoscaler(service(t, "  replica_policy:\n"+tt.policy))
			p := a.Decide(t0, tt.replicas, nil)
			counts := map[bool]int{}
			for _, l := range p.Launch {
				if l.UseSpot == nil {
					t.Fatalf("launch without a spot override: %+v", p.Launch)
				}
				counts[*l.UseSpot] += l.Count
			}
			if got := fmt.Sprintf("spot:%d od:%d", counts[true], counts[false]); got != tt.launch {
				t.Errorf("launch %s, want %s", got, tt.launch)
			}
			if !reflect.DeepEqual(p.Terminate, tt.stop) {
				t.Errorf("terminate %v, want %v", p.Terminate, tt.stop)
			}
		})
	}
}

func TestRollingUpdate(t *testing.T) {
	t.Parallel()
	a := NewAutoscaler(service(t, "  replicas: 2\n"))
	if err := a.Update(t0, 2, service(t, "  replicas: 2\n"), UpdateRolling); err != nil {
		t.Fatal(err)
	}
	if err := a.Update(t0, 2, service(t, "  replicas: 2\n"), UpdateRolling); err == nil {
		t.Error("an update to the same version was accepted")
	}
	old := ready(1, 2)
	steps := []struct {
		name   string
		new    []ReplicaInfo
		launch int
		stop   []int
	}{
		{"new version launched", nil, 2, nil},
		{"none ready yet: old ones stay", []ReplicaInfo{{ID: 3, Version: 2, Status: ReplicaStarting}, {ID: 4, Version: 2, Status: ReplicaProvisioning}}, 0, nil},
		{"one ready: one old one goes", []ReplicaInfo{{ID: 3, Version: 2, Status: ReplicaReady}, {ID: 4, Version: 2, Status: ReplicaStarting}}, 0, []int{2}},
		{"all ready: every old one goes", []ReplicaInfo{{ID: 3, Version: 2, Status: ReplicaReady}, {ID: 4, Version: 2, Status: ReplicaReady}}, 0, []int{2, 1}},
	}
	for _, s := range steps {
		p := a.Decide(t0, append(append([]ReplicaInfo(nil), old...), s.new...), []int{1, 2})
		launched := 0
		for _, l := range p.Launch {
			launched += l.Count
		}
		if launched != s.launch || !reflect.DeepEqual(p.Terminate, s.stop) {
			t.Errorf("%s: launch %d terminate %v, want %d %v", s.name, launched, p.Terminate, s.launch, s.stop)
		}
	}
}

func TestBlueGreenUpdate(t *testing.T) {
	t.Parallel()
	a := NewAutoscaler(service(t, "  replicas: 2\n"))
	if err := a.Update(t0, 2, service(t, "  replicas: 2\n"), UpdateBlueGreen); err != nil {
		t.Fatal(err)
	}
	minOf := func(int) int { return 2 }
	replicas := append(ready(1, 2), ReplicaInfo{ID: 3, Version: 2, Status: ReplicaReady}, ReplicaInfo{ID: 4, Version: 2, Status: ReplicaStarting})
	active := ActiveVersions(replicas, UpdateBlueGreen, minOf)
	if !reflect.DeepEqual(active, []int{1}) {
		t.Fatalf("one new replica ready: active %v, want [1]", active)
	}
	if ids := routableIDs(replicas, active); !reflect.DeepEqual(ids, []int{1, 2}) {
		t.Errorf("routed %v, want the old replicas only", ids)
	}
	if p := a.Decide(t0, replicas, active); len(p.Terminate) != 0 {
		t.Errorf("terminated %v before the switch", p.Terminate)
	}
	replicas[3].Status = ReplicaReady
	active = ActiveVersions(replicas, UpdateBlueGreen, minOf)
	if !reflect.DeepEqual(active, []int{2}) {
		t.Fatalf("two new replicas ready: active %v, want [2]", active)
	}
	if ids := routableIDs(replicas, active); !reflect.DeepEqual(ids, []int{3, 4}) {
		t.Errorf("routed %v, want the new replicas only", ids)
	}
	if p := a.Decide(t0, replicas, active); !reflect.DeepEqual(p.Terminate, []int{1, 2}) {
		t.Errorf("after the switch: terminate %v, want [1 2]", p.Terminate)
	}
	if got := ActiveVersions(replicas, UpdateRolling, minOf); !reflect.DeepEqual(got, []int{1, 2}) {
		t.Errorf("rolling: active %v, want every version with a ready replica", got)
	}
}

func routableIDs(replicas []ReplicaInfo, active []int) []int {
	var ids []int
	for _, r := range Routable(replicas, active) {
		ids = append(ids, r.ID)
	}
	return ids
}

func TestFailingVersionStopsScaling(t *testing.T) {
	t.Parallel()
	a := NewAutoscaler(service(t, "  replicas: 2\n"))
	p := a.Decide(t0, []ReplicaInfo{{ID: 1, Version: 1, Status: ReplicaFailed}, {ID: 2, Version: 1, Status: ReplicaStarting}}, nil)
	if p.Stopped == "" || len(p.Launch) != 0 {
		t.Errorf("a version that never got ready and failed: %+v", p)
	}
	// Once a replica of the version was ready, a failure is replaced.
	a.Decide(t0, ready(2), []int{1})
	p = a.Decide(t0, []ReplicaInfo{{ID: 1, Version: 1, Status: ReplicaFailed}, {ID: 2, Version: 1, Status: ReplicaReady}}, []int{1})
	if p.Stopped != "" || !reflect.DeepEqual(p.Launch, []Launch{{Count: 1}}) {
		t.Errorf("a failure after the version was ready: %+v", p)
	}
	// A preemption is not the service's fault.
	b := NewAutoscaler(service(t, "  replicas: 1\n"))
	if p := b.Decide(t0, []ReplicaInfo{{ID: 1, Version: 1, Status: ReplicaPreempted}}, nil); p.Stopped != "" || len(p.Launch) != 1 {
		t.Errorf("after a preemption: %+v", p)
	}
}

func TestInstanceAware(t *testing.T) {
	t.Parallel()
	s := service(t, "  replica_policy:\n    min_replicas: 1\n    max_replicas: 5\n    target_qps_per_replica: {'A100:1': 10, L4: 2}\n"+
		"    upscale_delay_seconds: 0\n    downscale_delay_seconds: 0\n  load_balancing_policy: instance_aware_least_load\n")
	a100 := func(id int) ReplicaInfo {
		return ReplicaInfo{ID: id, Version: 1, Status: ReplicaReady, Accelerator: "A100"}
	}
	l4 := func(id int) ReplicaInfo {
		return ReplicaInfo{ID: id, Version: 1, Status: ReplicaReady, Accelerator: "L4"}
	}
	tests := []struct {
		name     string
		rpm      int
		replicas []ReplicaInfo
		target   int
		stop     []int
	}{
		{"over capacity: add the largest for the excess", 15 * 60, []ReplicaInfo{a100(1)}, 2, nil},
		{"over capacity of mixed replicas", 25 * 60, []ReplicaInfo{a100(1), l4(2)}, 4, nil},
		{"under capacity: fewest ready replicas covering the load, the smallest goes", 5 * 60, []ReplicaInfo{a100(1), l4(2)}, 1, []int{2}},
		{"no replica yet: min", 100 * 60, nil, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := NewAutoscaler(s)
			a.Observe(traffic(t0, tt.rpm))
			p := a.Decide(t0, tt.replicas, []int{1})
			if p.Target != tt.target || !reflect.DeepEqual(p.Terminate, tt.stop) {
				t.Errorf("target %d terminate %v, want %d %v (qps %.1f)", p.Target, p.Terminate, tt.target, tt.stop, p.QPS)
			}
		})
	}
}

func TestRequestWindowMergesOutOfOrder(t *testing.T) {
	t.Parallel()
	var w RequestWindow
	w.Add([]Bucket{{10, 1}, {12, 1}})
	w.Add([]Bucket{{11, 2}, {12, 3}, {10, 1}, {9, 4}})
	if want := []Bucket{{9, 4}, {10, 2}, {11, 2}, {12, 4}}; !reflect.DeepEqual(w.buckets, want) {
		t.Errorf("buckets %v, want %v", w.buckets, want)
	}
	if q := w.QPS(time.Unix(12, 0)); q != 12.0/60 {
		t.Errorf("qps %v", q)
	}
}

// TestStateSurvivesARestart: an autoscaler restored from a saved state decides as the one that saved it.
func TestStateSurvivesARestart(t *testing.T) {
	t.Parallel()
	yaml := "  replica_policy:\n    min_replicas: 1\n    max_replicas: 5\n    target_qps_per_replica: 1\n    upscale_delay_seconds: 60\n"
	a := NewAutoscaler(service(t, yaml))
	now := t0
	a.Observe(traffic(now, 240))
	a.Decide(now, ready(1), []int{1})
	now = now.Add(DecisionInterval)
	a.Decide(now, ready(1), []int{1}) // up counter at 2 of 3
	saved, err := json.Marshal(a.State())
	if err != nil {
		t.Fatal(err)
	}
	var st AutoscalerState
	if err := json.Unmarshal(saved, &st); err != nil {
		t.Fatal(err)
	}
	b := NewAutoscaler(service(t, yaml))
	b.Restore(st)
	now = now.Add(DecisionInterval)
	fresh := NewAutoscaler(service(t, yaml))
	fresh.Observe(traffic(t0, 240))
	pa, pb, pf := a.Decide(now, ready(1), []int{1}), b.Decide(now, ready(1), []int{1}), fresh.Decide(now, ready(1), []int{1})
	// The third decision above the target moves it: only with the saved counter.
	if !reflect.DeepEqual(pa, pb) || pb.Target != 2 || pf.Target != 1 {
		t.Errorf("after a restart: %+v; the original decided %+v, one without the state %+v", pb, pa, pf)
	}
}
