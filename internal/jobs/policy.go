package jobs

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/provision"
	"github.com/stix-run/stix/internal/spec"
)

// The recovery policy: what the controller does after something happened to a task. It is pure (no I/O, no
// clock): everything it needs — the task's job_recovery, the event, the counters — is in its input, and its
// decision is data that the controller carries out. Its table test (policy_test.go) is SkyPilot's behaviour.

// Recovery strategies (job_recovery.strategy).
const (
	// StrategyEagerNextRegion tears the lost cluster down and relaunches anywhere but the lost region first,
	// then anywhere (SkyPilot's default).
	StrategyEagerNextRegion = "EAGER_NEXT_REGION"
	// StrategyFailover relaunches in the lost cluster's region first, then anywhere.
	StrategyFailover = "FAILOVER"
)

// Recovery is a task's job_recovery.
type Recovery struct {
	Strategy            string `json:"strategy,omitempty"` // StrategyEagerNextRegion when empty
	MaxRestartsOnErrors int    `json:"max_restarts_on_errors,omitempty"`
	RecoverOnExitCodes  []int  `json:"recover_on_exit_codes,omitempty"`
}

// RecoveryOf is the recovery of a task's resources.job_recovery (nil: the defaults); override, when set,
// replaces the strategy (`jobs launch --job-recovery`).
func RecoveryOf(jr *spec.JobRecovery, override string) Recovery {
	var r Recovery
	if jr != nil {
		r = Recovery{Strategy: jr.Strategy, MaxRestartsOnErrors: jr.MaxRestartsOnErrors,
			RecoverOnExitCodes: slices.Clone(jr.RecoverOnExitCodes)}
	}
	if override != "" {
		r.Strategy = strings.ToUpper(override)
	}
	if r.Strategy == "" {
		r.Strategy = StrategyEagerNextRegion
	}
	return r
}

// Place is a cloud region where a task's cluster ran.
type Place struct {
	Cloud  string `json:"cloud,omitempty"`
	Region string `json:"region,omitempty"`
}

// IsZero reports whether the place is unknown.
func (p Place) IsZero() bool { return p.Cloud == "" }

// Infra is the place in `infra:` form: "aws/us-east-1", or "local" for a cloud without regions.
func (p Place) Infra() string {
	if p.Region == "" {
		return p.Cloud
	}
	return p.Cloud + "/" + p.Region
}

// Where is where a launch may go: Prefer pins it to one place (FAILOVER's same region first), Avoid rules
// places out (EAGER_NEXT_REGION's lost region). The zero Where is anywhere.
type Where struct {
	Prefer Place   `json:"prefer,omitzero"`
	Avoid  []Place `json:"avoid,omitempty"`
}

// Restricted reports whether w is narrower than anywhere.
func (w Where) Restricted() bool { return !w.Prefer.IsZero() || len(w.Avoid) > 0 }

// EventKind is what happened to a task.
type EventKind int

const (
	// ClusterLost: the task's cluster (or one of its nodes) is gone: preempted, killed, unreachable.
	ClusterLost EventKind = iota + 1
	// ControllerRestarted: the controller restarted and found the task's cluster gone.
	ControllerRestarted
	// TaskExited: the task's run ended with Event.ExitCode.
	TaskExited
	// SetupFailed: the task's setup failed.
	SetupFailed
	// LaunchFailed: launching the task's cluster failed with Event.Err.
	LaunchFailed
	// Cancelled: the user cancelled the job.
	Cancelled
)

// Event is the policy's input about what happened.
type Event struct {
	Kind     EventKind
	ExitCode int // TaskExited, SetupFailed
	// Err is, for LaunchFailed, the core's error, whose types say why (api.TaskErrors, provision.Error, cloud's);
	// for ClusterLost, what told the loss when it was more than a broken stream (a node's event).
	Err error
	// Place is where the task's cluster ran (ClusterLost, TaskExited, SetupFailed).
	Place Place
}

// Counters are what the controller counted of a task so far.
type Counters struct {
	// Restarts is the user-error restarts used (max_restarts_on_errors counts them).
	Restarts int
	// LaunchTries is the failed unrestricted launch tries since the last success (LaunchFailed).
	LaunchTries int
	// Tried is where the launch that failed was allowed to go (LaunchFailed).
	Tried Where
	// Recovering says the launch that failed was a recovery (its final state then is the same).
	Recovering bool
}

// Limits bound the launch retries: after MaxLaunchTries failed unrestricted tries in a row the task ends
// FAILED_NO_RESOURCE (MaxRecoveryTries when the launch is a recovery: a job that already ran waits longer for
// capacity to come back, as SkyPilot's recovery keeps trying); between tries the controller waits Backoff,
// doubling up to MaxBackoff (PENDING meanwhile).
type Limits struct {
	MaxLaunchTries   int
	MaxRecoveryTries int // 0: MaxLaunchTries
	Backoff          time.Duration
	MaxBackoff       time.Duration
}

// DefaultLimits are the controller's limits unless configured: a first launch gives up after 5 tries (about a
// minute and a quarter of backoff), a recovery after 20 (about an hour and a quarter).
var DefaultLimits = Limits{MaxLaunchTries: 5, MaxRecoveryTries: 20, Backoff: 5 * time.Second, MaxBackoff: 5 * time.Minute}

// Action is what the controller does next.
type Action int

const (
	// Relaunch: tear the task's cluster down (if any) and launch again now, where Decision.Where says.
	Relaunch Action = iota + 1
	// Backoff: wait Decision.Wait (the task PENDING), then launch where Decision.Where says.
	Backoff
	// End: the task ends in Decision.Status; its cluster is torn down.
	End
)

// Decision is the policy's output.
type Decision struct {
	Action Action
	// Status is the task's state while the decision is carried out (RECOVERING, PENDING) or its final one.
	Status  api.ManagedJobStatus
	Reason  string // one of the Reason* words
	Message string
	Where   Where
	Wait    time.Duration
	// CountRestart uses one of max_restarts_on_errors; CountRecovery adds one to the task's #RECOVERIES.
	CountRestart  bool
	CountRecovery bool
}

// Decide is the recovery policy.
func Decide(r Recovery, ev Event, c Counters, lim Limits) Decision {
	switch ev.Kind {
	case Cancelled:
		return Decision{Action: End, Status: api.ManagedCancelled, Reason: ReasonCancelled, Message: "cancelled by the user"}
	case ClusterLost:
		msg := fmt.Sprintf("cluster lost on %s", placeText(ev.Place))
		if ev.Err != nil {
			msg += ": " + ev.Err.Error()
		}
		return Decision{Action: Relaunch, Status: api.ManagedRecovering, Reason: ReasonPreempted, CountRecovery: true,
			Message: msg, Where: recoverWhere(r, ev.Place)}
	case ControllerRestarted:
		// The region is not known to be at fault: FAILOVER goes back there first, EAGER_NEXT_REGION anywhere.
		w := Where{}
		if r.Strategy == StrategyFailover {
			w.Prefer = ev.Place
		}
		return Decision{Action: Relaunch, Status: api.ManagedRecovering, Reason: ReasonControllerRestart, CountRecovery: true,
			Message: "the controller restarted and the task's cluster was gone", Where: w}
	case TaskExited, SetupFailed:
		return userFailure(r, ev, c)
	case LaunchFailed:
		return launchFailed(ev.Err, c, lim)
	}
	return Decision{Action: End, Status: api.ManagedFailedController, Reason: ReasonFailed,
		Message: fmt.Sprintf("unknown event %d", ev.Kind)}
}

// recoverWhere is where a lost cluster's task relaunches first: EAGER_NEXT_REGION avoids the lost region,
// FAILOVER tries it first. Either falls back to anywhere when that launch fails (launchFailed).
func recoverWhere(r Recovery, lost Place) Where {
	if lost.IsZero() {
		return Where{}
	}
	if r.Strategy == StrategyFailover {
		return Where{Prefer: lost}
	}
	return Where{Avoid: []Place{lost}}
}

func userFailure(r Recovery, ev Event, c Counters) Decision {
	final, what := api.ManagedFailed, fmt.Sprintf("the task's run exited with code %d", ev.ExitCode)
	if ev.Kind == SetupFailed {
		final, what = api.ManagedFailedSetup, fmt.Sprintf("the task's setup failed (exit code %d)", ev.ExitCode)
	}
	if ev.Kind == TaskExited && ev.ExitCode == 0 {
		return Decision{Action: End, Status: api.ManagedSucceeded, Reason: ReasonSucceeded}
	}
	// The same region is not at fault: FAILOVER stays there first, EAGER_NEXT_REGION goes anywhere.
	w := Where{}
	if r.Strategy == StrategyFailover {
		w.Prefer = ev.Place
	}
	if ev.Kind == TaskExited && slices.Contains(r.RecoverOnExitCodes, ev.ExitCode) {
		// recover_on_exit_codes restart whatever max_restarts_on_errors says, and do not use it up.
		return Decision{Action: Relaunch, Status: api.ManagedRecovering, Reason: ReasonUserErrorRestart, CountRecovery: true,
			Message: what + ", one of recover_on_exit_codes", Where: w}
	}
	if c.Restarts < r.MaxRestartsOnErrors {
		return Decision{Action: Relaunch, Status: api.ManagedRecovering, Reason: ReasonUserErrorRestart, CountRecovery: true,
			CountRestart: true, Where: w,
			Message: fmt.Sprintf("%s; restart %d of max_restarts_on_errors %d", what, c.Restarts+1, r.MaxRestartsOnErrors)}
	}
	reason := ReasonFailed
	if final == api.ManagedFailedSetup {
		reason = ReasonSetupFailed
	}
	if r.MaxRestartsOnErrors > 0 {
		what += fmt.Sprintf(" and its %d restarts (max_restarts_on_errors) are used up", r.MaxRestartsOnErrors)
	}
	return Decision{Action: End, Status: final, Reason: reason, Message: what}
}

func launchFailed(err error, c Counters, lim Limits) Decision {
	var te api.TaskErrors
	if errors.As(err, &te) {
		return Decision{Action: End, Status: api.ManagedFailedPrechecks, Reason: ReasonPrechecks, Message: "invalid task: " + firstLine(err)}
	}
	if c.Tried.Restricted() {
		// The preferred (or every other) region had nothing: widen to anywhere at once.
		return Decision{Action: Relaunch, Status: launchStatus(c), Reason: ReasonLaunching,
			Message: fmt.Sprintf("no capacity where first tried (%s); trying anywhere", firstLine(err))}
	}
	if msg, ok := precheckFailure(err); ok {
		return Decision{Action: End, Status: api.ManagedFailedPrechecks, Reason: ReasonPrechecks, Message: msg}
	}
	tries, limit := c.LaunchTries+1, lim.MaxLaunchTries
	if c.Recovering && lim.MaxRecoveryTries > 0 {
		limit = lim.MaxRecoveryTries
	}
	limit = max(limit, 1)
	if tries >= limit {
		return Decision{Action: End, Status: api.ManagedFailedNoResource, Reason: ReasonNoResource,
			Message: fmt.Sprintf("no resources after %d launch tries: %s", tries, firstLine(err))}
	}
	return Decision{Action: Backoff, Status: api.ManagedPending, Reason: ReasonBackoff, Wait: backoff(lim, tries),
		Message: fmt.Sprintf("launch try %d of %d failed: %s", tries, limit, firstLine(err))}
}

func launchStatus(c Counters) api.ManagedJobStatus {
	if c.Recovering {
		return api.ManagedRecovering
	}
	return api.ManagedStarting
}

// backoff is the wait after the n-th failed try: Backoff doubling, capped at MaxBackoff.
func backoff(lim Limits, n int) time.Duration {
	d := lim.Backoff
	for i := 1; i < n && (lim.MaxBackoff <= 0 || d < lim.MaxBackoff); i++ {
		d *= 2
	}
	if lim.MaxBackoff > 0 {
		d = min(d, lim.MaxBackoff)
	}
	return d
}

// precheckFailure reports whether an unrestricted launch's error says the task cannot run anywhere whatever the
// capacity: no infra could even be tried (nothing enabled offers what it asks), or every infra tried refused the
// credentials or the configuration.
func precheckFailure(err error) (string, bool) {
	var pe *provision.Error
	if !errors.As(err, &pe) {
		return "", false
	}
	if len(pe.Attempts) == 0 {
		return "no infra can run the task: " + firstLine(err), true
	}
	for _, a := range pe.Attempts {
		var auth *cloud.AuthError
		var inv *cloud.InvalidConfigError
		if !errors.As(a.Err, &auth) && !errors.As(a.Err, &inv) {
			return "", false
		}
	}
	return "every infra tried refused the credentials or the configuration: " + firstLine(err), true
}

func placeText(p Place) string {
	if p.IsZero() {
		return "its infra"
	}
	return p.Infra()
}

func firstLine(err error) string {
	if err == nil {
		return ""
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
