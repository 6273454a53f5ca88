package jobs

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/provision"
	"github.com/stix-run/stix/internal/spec"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	east := Place{Cloud: "aws", Region: "us-east-1"}
	eager := Recovery{Strategy: StrategyEagerNextRegion}
	failover := Recovery{Strategy: StrategyFailover}
	restarts := Recovery{Strategy: StrategyEagerNextRegion, MaxRestartsOnErrors: 2, RecoverOnExitCodes: []int{33}}
	lim := Limits{MaxLaunchTries: 3, MaxRecoveryTries: 4, Backoff: time.Second, MaxBackoff: 3 * time.Second}
	capacity := fmt.Errorf("launch %q: %w", "x-1", &provision.Error{Attempts: []provision.Attempt{
		{Offer: cloud.Offer{Cloud: "aws", Region: "us-east-1"}, Err: &cloud.CapacityError{}}}, Last: errors.New("nothing left")})
	authOnly := &provision.Error{Attempts: []provision.Attempt{{Err: &cloud.AuthError{}}, {Err: &cloud.InvalidConfigError{}}}, Last: errors.New("nothing left")}
	infeasible := &provision.Error{Last: errors.New("no enabled infra offers H100:8")}
	badTask := api.TaskErrors{{Text: "t.yaml:3:5: resources.cpus: bad"}}

	tests := []struct {
		name string
		r    Recovery
		ev   Event
		c    Counters
		want Decision
	}{
		{"cancel ends cancelled", eager, Event{Kind: Cancelled}, Counters{},
			Decision{Action: End, Status: api.ManagedCancelled, Reason: ReasonCancelled}},
		{"eager: lost cluster relaunches avoiding its region", eager, Event{Kind: ClusterLost, Place: east}, Counters{},
			Decision{Action: Relaunch, Status: api.ManagedRecovering, Reason: ReasonPreempted, CountRecovery: true,
				Where: Where{Avoid: []Place{east}}}},
		{"failover: lost cluster relaunches in its region first", failover, Event{Kind: ClusterLost, Place: east}, Counters{},
			Decision{Action: Relaunch, Status: api.ManagedRecovering, Reason: ReasonPreempted, CountRecovery: true,
				Where: Where{Prefer: east}}},
		{"lost cluster of unknown place relaunches anywhere", eager, Event{Kind: ClusterLost}, Counters{},
			Decision{Action: Relaunch, Status: api.ManagedRecovering, Reason: ReasonPreempted, CountRecovery: true}},
		{"controller restart, eager: anywhere", eager, Event{Kind: ControllerRestarted, Place: east}, Counters{},
			Decision{Action: Relaunch, Status: api.ManagedRecovering, Reason: ReasonControllerRestart, CountRecovery: true}},
		{"controller restart, failover: same region first", failover, Event{Kind: ControllerRestarted, Place: east}, Counters{},
			Decision{Action: Relaunch, Status: api.ManagedRecovering, Reason: ReasonControllerRestart, CountRecovery: true,
				Where: Where{Prefer: east}}},
		{"exit 0 succeeds", restarts, Event{Kind: TaskExited, ExitCode: 0}, Counters{},
			Decision{Action: End, Status: api.ManagedSucceeded, Reason: ReasonSucceeded}},
		{"exit 1 with no restarts allowed fails", eager, Event{Kind: TaskExited, ExitCode: 1}, Counters{},
			Decision{Action: End, Status: api.ManagedFailed, Reason: ReasonFailed}},
		{"exit 1 with restarts left restarts", restarts, Event{Kind: TaskExited, ExitCode: 1, Place: east}, Counters{Restarts: 1},
			Decision{Action: Relaunch, Status: api.ManagedRecovering, Reason: ReasonUserErrorRestart, CountRestart: true, CountRecovery: true}},
		{"failover restarts in the same region first", Recovery{Strategy: StrategyFailover, MaxRestartsOnErrors: 1},
			Event{Kind: TaskExited, ExitCode: 1, Place: east}, Counters{},
			Decision{Action: Relaunch, Status: api.ManagedRecovering, Reason: ReasonUserErrorRestart, CountRestart: true, CountRecovery: true,
				Where: Where{Prefer: east}}},
		{"exit 1 with restarts used up fails", restarts, Event{Kind: TaskExited, ExitCode: 1}, Counters{Restarts: 2},
			Decision{Action: End, Status: api.ManagedFailed, Reason: ReasonFailed}},
		{"recover_on_exit_codes restarts even with restarts used up", restarts, Event{Kind: TaskExited, ExitCode: 33}, Counters{Restarts: 2},
			Decision{Action: Relaunch, Status: api.ManagedRecovering, Reason: ReasonUserErrorRestart, CountRecovery: true}},
		{"a code not listed does not", Recovery{RecoverOnExitCodes: []int{33}}, Event{Kind: TaskExited, ExitCode: 34}, Counters{},
			Decision{Action: End, Status: api.ManagedFailed, Reason: ReasonFailed}},
		{"setup failure with restarts left restarts", restarts, Event{Kind: SetupFailed, ExitCode: 5}, Counters{},
			Decision{Action: Relaunch, Status: api.ManagedRecovering, Reason: ReasonUserErrorRestart, CountRestart: true, CountRecovery: true}},
		{"setup failure with no restarts ends FAILED_SETUP", eager, Event{Kind: SetupFailed, ExitCode: 5}, Counters{},
			Decision{Action: End, Status: api.ManagedFailedSetup, Reason: ReasonSetupFailed}},
		{"exit code 33 on setup is not recover_on_exit_codes", Recovery{RecoverOnExitCodes: []int{33}}, Event{Kind: SetupFailed, ExitCode: 33}, Counters{},
			Decision{Action: End, Status: api.ManagedFailedSetup, Reason: ReasonSetupFailed}},
		{"invalid task is a precheck failure", eager, Event{Kind: LaunchFailed, Err: badTask}, Counters{},
			Decision{Action: End, Status: api.ManagedFailedPrechecks, Reason: ReasonPrechecks}},
		{"invalid task even on a restricted try", eager, Event{Kind: LaunchFailed, Err: badTask}, Counters{Tried: Where{Prefer: east}},
			Decision{Action: End, Status: api.ManagedFailedPrechecks, Reason: ReasonPrechecks}},
		{"nothing could be tried is a precheck failure", eager, Event{Kind: LaunchFailed, Err: infeasible}, Counters{},
			Decision{Action: End, Status: api.ManagedFailedPrechecks, Reason: ReasonPrechecks}},
		{"credentials refused everywhere is a precheck failure", eager, Event{Kind: LaunchFailed, Err: authOnly}, Counters{},
			Decision{Action: End, Status: api.ManagedFailedPrechecks, Reason: ReasonPrechecks}},
		{"no capacity where avoided-region launch went: anywhere at once", eager, Event{Kind: LaunchFailed, Err: infeasible},
			Counters{Tried: Where{Avoid: []Place{east}}, Recovering: true},
			Decision{Action: Relaunch, Status: api.ManagedRecovering, Reason: ReasonLaunching}},
		{"no capacity in the preferred region: anywhere at once", failover, Event{Kind: LaunchFailed, Err: capacity},
			Counters{Tried: Where{Prefer: east}},
			Decision{Action: Relaunch, Status: api.ManagedStarting, Reason: ReasonLaunching}},
		{"no capacity anywhere: back off, PENDING", eager, Event{Kind: LaunchFailed, Err: capacity}, Counters{},
			Decision{Action: Backoff, Status: api.ManagedPending, Reason: ReasonBackoff, Wait: time.Second}},
		{"backoff doubles", eager, Event{Kind: LaunchFailed, Err: capacity}, Counters{LaunchTries: 1},
			Decision{Action: Backoff, Status: api.ManagedPending, Reason: ReasonBackoff, Wait: 2 * time.Second}},
		{"an untyped error is retried too", eager, Event{Kind: LaunchFailed, Err: errors.New("connection reset")}, Counters{},
			Decision{Action: Backoff, Status: api.ManagedPending, Reason: ReasonBackoff, Wait: time.Second}},
		{"tries used up: FAILED_NO_RESOURCE", eager, Event{Kind: LaunchFailed, Err: capacity}, Counters{LaunchTries: 2},
			Decision{Action: End, Status: api.ManagedFailedNoResource, Reason: ReasonNoResource}},
		{"a recovery tries longer", eager, Event{Kind: LaunchFailed, Err: capacity}, Counters{LaunchTries: 2, Recovering: true},
			Decision{Action: Backoff, Status: api.ManagedPending, Reason: ReasonBackoff, Wait: 3 * time.Second}},
		{"a recovery's tries used up: FAILED_NO_RESOURCE", eager, Event{Kind: LaunchFailed, Err: capacity}, Counters{LaunchTries: 3, Recovering: true},
			Decision{Action: End, Status: api.ManagedFailedNoResource, Reason: ReasonNoResource}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := fmt.Sprintf("%+v", tc.ev)
			got := Decide(tc.r, tc.ev, tc.c, lim)
			if got.Message == "" && got.Status != api.ManagedSucceeded {
				t.Errorf("no message: %+v", got)
			}
			got.Message = ""
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Decide(%+v, %+v, %+v)\n got %+v\nwant %+v", tc.r, tc.ev, tc.c, got, tc.want)
			}
			if after := fmt.Sprintf("%+v", tc.ev); after != in {
				t.Errorf("Decide changed its input: %s -> %s", in, after)
			}
		})
	}
}

// A loss told by a node's event says so in the RECOVERING message.
func TestLostClusterSaysWhatToldIt(t *testing.T) {
	t.Parallel()
	ev := Event{Kind: ClusterLost, Place: Place{Cloud: "docker", Region: "docker"}, Err: errors.New("node 1 of cluster c-1 is STOPPED: container x died (exit code 137)")}
	d := Decide(RecoveryOf(nil, ""), ev, Counters{}, Limits{})
	if !strings.HasSuffix(d.Message, ": node 1 of cluster c-1 is STOPPED: container x died (exit code 137)") || !strings.HasPrefix(d.Message, "cluster lost on ") {
		t.Errorf("message %q", d.Message)
	}
}

func TestBackoffIsCapped(t *testing.T) {
	t.Parallel()
	lim := Limits{MaxLaunchTries: 100, Backoff: time.Second, MaxBackoff: 10 * time.Second}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 50: 10 * time.Second} {
		if got := backoff(lim, n); got != want {
			t.Errorf("backoff(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestRecoveryOf(t *testing.T) {
	t.Parallel()
	if got := RecoveryOf(nil, ""); got.Strategy != StrategyEagerNextRegion {
		t.Errorf("default strategy %q", got.Strategy)
	}
	jr := &spec.JobRecovery{Strategy: "FAILOVER", MaxRestartsOnErrors: 3, RecoverOnExitCodes: []int{1, 2}}
	got := RecoveryOf(jr, "")
	if !reflect.DeepEqual(got, Recovery{Strategy: StrategyFailover, MaxRestartsOnErrors: 3, RecoverOnExitCodes: []int{1, 2}}) {
		t.Errorf("RecoveryOf = %+v", got)
	}
	got.RecoverOnExitCodes[0] = 9
	if jr.RecoverOnExitCodes[0] != 1 {
		t.Error("RecoveryOf shares the spec's slice")
	}
	if got := RecoveryOf(jr, "eager_next_region"); got.Strategy != StrategyEagerNextRegion || got.MaxRestartsOnErrors != 3 {
		t.Errorf("override: %+v", got)
	}
}

func TestTransitions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		from, to api.ManagedJobStatus
		ok       bool
	}{
		{api.ManagedPending, api.ManagedStarting, true},
		{api.ManagedStarting, api.ManagedRunning, true},
		{api.ManagedRunning, api.ManagedRecovering, true},
		{api.ManagedRecovering, api.ManagedRunning, true},
		{api.ManagedRecovering, api.ManagedCancelling, true},
		{api.ManagedCancelling, api.ManagedCancelled, true},
		{api.ManagedRunning, api.ManagedSucceeded, true},
		{api.ManagedRunning, api.ManagedFailedController, true},
		{api.ManagedPending, api.ManagedRunning, false},
		{api.ManagedRunning, api.ManagedStarting, false},
		{api.ManagedSucceeded, api.ManagedRunning, false},
		{api.ManagedCancelled, api.ManagedCancelling, false},
		{api.ManagedCancelling, api.ManagedRunning, false},
		{api.ManagedRunning, api.ManagedRunning, false},
	} {
		if got := CanTransition(tc.from, tc.to); got != tc.ok {
			t.Errorf("CanTransition(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.ok)
		}
	}
}

func TestClusterName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"train":     "train-7",
		"My_Job.v2": "my-job-v2-7",
		"a-very-long-task-name-that-goes-on-and-on": "a-very-long-task-name-tha-7",
		"9lives": "job9lives-7",
		"":       "job-7",
		"---":    "job-7",
	} {
		if got := ClusterName(name, 7); got != want {
			t.Errorf("ClusterName(%q) = %q, want %q", name, got, want)
		}
	}
	if got := TaskIDs("sky-managed-x", 3, []string{"a", "b"}); got[0] != "sky-managed-x_a_3-0" || got[1] != "sky-managed-x_b_3-1" {
		t.Errorf("TaskIDs = %v", got)
	}
}
