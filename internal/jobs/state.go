// Package jobs runs managed jobs (`stix jobs`) inside the API server: their states and SkyPilot's transitions
// (state.go), the recovery policy, pure (policy.go), their tables in the server's store (store.go), and the
// controller that launches each task on its own job cluster through api.Client, watches it, recovers it when
// its cluster is lost, and resumes every unfinished job after a restart (controller.go, run.go).
package jobs

import "github.com/stix-run/stix/api"

// transitions are the state changes SkyPilot's controller makes, from each non-final state. PENDING also
// stands for "backing off between launch tries", so STARTING and RECOVERING may go back to it. Every live
// state may go to CANCELLING (and a job that never started straight to CANCELLED), and to FAILED_CONTROLLER.
var transitions = map[api.ManagedJobStatus][]api.ManagedJobStatus{
	api.ManagedPending: {api.ManagedStarting, api.ManagedRecovering, api.ManagedCancelled,
		api.ManagedFailedPrechecks, api.ManagedFailedNoResource},
	api.ManagedStarting: {api.ManagedRunning, api.ManagedPending, api.ManagedRecovering, api.ManagedSucceeded,
		api.ManagedFailed, api.ManagedFailedSetup, api.ManagedFailedPrechecks, api.ManagedFailedNoResource},
	api.ManagedRunning: {api.ManagedRecovering, api.ManagedSucceeded, api.ManagedFailed, api.ManagedFailedSetup},
	api.ManagedRecovering: {api.ManagedRunning, api.ManagedPending, api.ManagedSucceeded, api.ManagedFailed,
		api.ManagedFailedSetup, api.ManagedFailedPrechecks, api.ManagedFailedNoResource},
	api.ManagedCancelling: {api.ManagedCancelled},
}

// CanTransition reports whether SkyPilot's controller moves a task from one state to another. Staying in a
// state is not a transition.
func CanTransition(from, to api.ManagedJobStatus) bool {
	if from.Terminal() || from == to {
		return false
	}
	if to == api.ManagedFailedController {
		return true
	}
	if to == api.ManagedCancelling && from != api.ManagedCancelling {
		return true
	}
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Reasons recorded with a task's state changes (api.ManagedJobEvent.Reason): why it recovered, or ended.
const (
	ReasonSubmitted         = "submitted"
	ReasonLaunching         = "launching"
	ReasonLaunched          = "launched"
	ReasonPreempted         = "preempted" // the cluster or one of its nodes was lost
	ReasonUserErrorRestart  = "user_error_restart"
	ReasonControllerRestart = "controller_restart"
	ReasonBackoff           = "launch_backoff"
	ReasonNoResource        = "no_resource"
	ReasonPrechecks         = "prechecks_failed"
	ReasonSucceeded         = "succeeded"
	ReasonFailed            = "failed"
	ReasonSetupFailed       = "setup_failed"
	ReasonCancelled         = "cancelled"
	ReasonReattached        = "reattached" // the controller restarted and found the task still running
	ReasonPreviousFailed    = "previous_task_failed"
)
