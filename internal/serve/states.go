// Package serve is SkyServe in Go, the parts that need no API server: the load balancer in front of a service's
// replicas (lb.go, policy.go), the request counts it keeps for autoscaling (requests.go) and the pure autoscaler
// that turns those counts and the replica list into decisions (autoscaler.go). The serve controller and replica
// manager, which launch replicas through the core and push the ready ones to the load balancer, build on it.
package serve

// ReplicaStatus is a replica's state, SkyServe's names.
type ReplicaStatus string

// SkyServe's replica states.
const (
	ReplicaPending            ReplicaStatus = "PENDING"      // waiting to be launched (launches are rate-limited)
	ReplicaProvisioning       ReplicaStatus = "PROVISIONING" // its cluster is being launched
	ReplicaStarting           ReplicaStatus = "STARTING"     // up; the run command started; probes not yet passing
	ReplicaReady              ReplicaStatus = "READY"        // passes the readiness probe: takes traffic
	ReplicaNotReady           ReplicaStatus = "NOT_READY"    // was ready, now fails the probe
	ReplicaShuttingDown       ReplicaStatus = "SHUTTING_DOWN"
	ReplicaFailed             ReplicaStatus = "FAILED"               // the user's run command failed
	ReplicaFailedInitialDelay ReplicaStatus = "FAILED_INITIAL_DELAY" // never ready within initial_delay_seconds
	ReplicaFailedProbing      ReplicaStatus = "FAILED_PROBING"       // failed the probe for too long after ready
	ReplicaFailedProvision    ReplicaStatus = "FAILED_PROVISION"     // its cluster could not be launched
	ReplicaFailedCleanup      ReplicaStatus = "FAILED_CLEANUP"       // tearing it down failed: may leak resources
	ReplicaPreempted          ReplicaStatus = "PREEMPTED"
	ReplicaUnknown            ReplicaStatus = "UNKNOWN"
)

// Terminal reports whether the replica is gone or going: it counts for nothing when sizing the service.
func (s ReplicaStatus) Terminal() bool {
	switch s {
	case ReplicaShuttingDown, ReplicaPreempted, ReplicaUnknown, ReplicaFailed, ReplicaFailedInitialDelay,
		ReplicaFailedProbing, ReplicaFailedProvision, ReplicaFailedCleanup:
		return true
	}
	return false
}

// UnrecoverableFailure reports a failure that comes from the user's service, not the infrastructure: SkyServe
// stops scaling a version whose replica failed this way before any of its replicas was ever ready, rather than
// relaunching it forever.
func (s ReplicaStatus) UnrecoverableFailure() bool {
	switch s {
	case ReplicaFailed, ReplicaFailedInitialDelay, ReplicaFailedProbing:
		return true
	}
	return false
}

// Failed reports a failure state (SkyServe's failed statuses: the FAILED_* ones and UNKNOWN).
func (s ReplicaStatus) Failed() bool {
	switch s {
	case ReplicaFailed, ReplicaFailedInitialDelay, ReplicaFailedProbing, ReplicaFailedProvision, ReplicaFailedCleanup, ReplicaUnknown:
		return true
	}
	return false
}

// scaleDownRank orders replicas for removal as SkyServe does: the earliest in their start-up go first (a later
// one may be ready soon); READY last. Terminal states are never chosen.
func (s ReplicaStatus) scaleDownRank() int {
	switch s {
	case ReplicaPending:
		return 0
	case ReplicaProvisioning:
		return 1
	case ReplicaStarting:
		return 2
	case ReplicaNotReady:
		return 3
	case ReplicaReady:
		return 4
	}
	return 5
}

// ServiceStatus is a service's state, SkyServe's names.
type ServiceStatus string

// SkyServe's service states.
const (
	ServiceControllerInit   ServiceStatus = "CONTROLLER_INIT"   // the controller and load balancer are starting
	ServiceReplicaInit      ServiceStatus = "REPLICA_INIT"      // no replica ready yet
	ServiceControllerFailed ServiceStatus = "CONTROLLER_FAILED" // the controller or load balancer failed
	ServiceReady            ServiceStatus = "READY"             // at least one replica ready
	ServiceShuttingDown     ServiceStatus = "SHUTTING_DOWN"
	ServiceFailed           ServiceStatus = "FAILED"         // every replica failed, or the service cannot start
	ServiceFailedCleanup    ServiceStatus = "FAILED_CLEANUP" // tearing it down failed: may leak resources
	ServiceNoReplica        ServiceStatus = "NO_REPLICA"     // scaled to zero (min_replicas: 0, no traffic)
)

// ServiceStatusOf derives a running service's state from all its replicas' states, as SkyServe does: READY when
// one replica is; else FAILED when one has failed; else NO_REPLICA when there is none (scaled to zero); else
// REPLICA_INIT. The controller's own states (CONTROLLER_INIT, CONTROLLER_FAILED, SHUTTING_DOWN,
// FAILED_CLEANUP) are set by the controller, not derived.
func ServiceStatusOf(replicas []ReplicaStatus) ServiceStatus {
	failed := false
	for _, s := range replicas {
		if s == ReplicaReady {
			return ServiceReady
		}
		failed = failed || s.Failed()
	}
	switch {
	case failed:
		return ServiceFailed
	case len(replicas) == 0:
		return ServiceNoReplica
	}
	return ServiceReplicaInit
}
