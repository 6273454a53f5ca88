package api

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Services is the `stix serve` part of Client. Services are run by a controller inside the API server process
// (like managed jobs): with no endpoint configured, the CLI starts a local server for them, so the embedded core
// answers these calls with a NeedsServerError.
type Services interface {
	// ServeUp starts a service from a task with a `service:` section; the operation's result names the service
	// and its endpoint (the load balancer's address).
	ServeUp(ctx context.Context, req ServeUpRequest) (*Operation[ServeUpResult], error)
	// ServeUpdate gives a running service a new version of its task (rolling or blue-green).
	ServeUpdate(ctx context.Context, req ServeUpdateRequest) (*Operation[ServeUpdateResult], error)
	// ServeStatus lists services (all when names is empty) with their replicas, oldest first.
	ServeStatus(ctx context.Context, names []string) ([]Service, error)
	// ServeDown tears services down: their replicas' clusters and their load balancers.
	ServeDown(ctx context.Context, req ServeDownRequest) (*Operation[[]ServeDownOutcome], error)
	// ServeLogs writes a service's logs to w: a replica's output, or the controller's or load balancer's log.
	ServeLogs(ctx context.Context, name string, opts ServeLogsOptions, w io.Writer) error
}

// ServiceStatus is a service's state; the values and their meaning are SkyServe's.
type ServiceStatus string

// Service states.
const (
	ServiceControllerInit   ServiceStatus = "CONTROLLER_INIT"   // the controller and load balancer are starting
	ServiceReplicaInit      ServiceStatus = "REPLICA_INIT"      // no replica ready yet
	ServiceControllerFailed ServiceStatus = "CONTROLLER_FAILED" // the controller or load balancer failed
	ServiceReady            ServiceStatus = "READY"             // at least one replica ready
	ServiceShuttingDown     ServiceStatus = "SHUTTING_DOWN"
	ServiceFailed           ServiceStatus = "FAILED"         // every replica failed, or the service cannot start
	ServiceFailedCleanup    ServiceStatus = "FAILED_CLEANUP" // tearing it down failed: may leak resources
	ServiceNoReplica        ServiceStatus = "NO_REPLICA"     // scaled to zero
)

// ReplicaStatus is a replica's state; the values (PENDING, PROVISIONING, STARTING, READY, NOT_READY,
// SHUTTING_DOWN, FAILED, FAILED_INITIAL_DELAY, FAILED_PROBING, FAILED_PROVISION, FAILED_CLEANUP, PREEMPTED,
// UNKNOWN) and their meaning are SkyServe's (internal/serve.ReplicaStatus lists them).
type ReplicaStatus string

// Service is one row of `stix serve status`.
type Service struct {
	Name    string        `json:"name"`
	Status  ServiceStatus `json:"status"`
	Version int           `json:"version"` // the latest version (1 at `serve up`, +1 per update)
	// Endpoint is the load balancer's address, host:port (https:// prefixed with tls).
	Endpoint  string    `json:"endpoint"`
	User      string    `json:"user_name,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// Uptime is how long the service has been READY without a break; 0 when it is not.
	Uptime Seconds `json:"uptime"`
	Policy string  `json:"policy,omitempty"` // the load-balancing policy
	// QPS is the requests per second through the load balancer over the last minute, as the serve controller
	// last saved them for its autoscaler (every decision interval).
	QPS      float64   `json:"qps,omitempty"`
	Message  string    `json:"message,omitempty"`
	Replicas []Replica `json:"replica_info"`
}

// Replica is one replica of a service.
type Replica struct {
	ID      int           `json:"replica_id"`
	Service string        `json:"name"`
	Version int           `json:"version"`
	Status  ReplicaStatus `json:"status"`
	Cluster string        `json:"cluster_name"`
	// Endpoint is where the load balancer reaches it, http://host:port; empty until its cluster is up.
	Endpoint   string    `json:"endpoint,omitempty"`
	LaunchedAt time.Time `json:"launched_at"`
	Infra      string    `json:"infra,omitempty"`
	Resources  string    `json:"resources,omitempty"`
	Spot       bool      `json:"is_spot,omitempty"`
}

// ServeUpRequest is a service to start.
type ServeUpRequest struct {
	// Task is the service's task, with its `service:` section.
	Task TaskSpec `json:"task"`
	// Name names the service; generated when empty.
	Name string `json:"service_name,omitempty"`
}

// ServeUpResult names the service started.
type ServeUpResult struct {
	Name     string `json:"service_name"`
	Endpoint string `json:"endpoint"`
}

// ServeUpdateRequest is a new version of a service's task.
type ServeUpdateRequest struct {
	Name string   `json:"service_name"`
	Task TaskSpec `json:"task"`
	// Mode is "rolling" (default) or "blue_green".
	Mode string `json:"mode,omitempty"`
}

// ServeUpdateResult is the version the update created.
type ServeUpdateResult struct {
	Name    string `json:"service_name"`
	Version int    `json:"version"`
}

// ServeDownRequest selects the services to tear down: Names, or All.
type ServeDownRequest struct {
	Names []string `json:"service_names,omitempty"`
	All   bool     `json:"all,omitempty"`
	// Purge forgets a service whose teardown failed (FAILED_CLEANUP) rather than reporting the failure; with
	// ReplicaID, it also terminates (and forgets) a replica in a failed state.
	Purge bool `json:"purge,omitempty"`
	// ReplicaID, when not 0, tears down only that replica of the one service in Names (SkyServe's
	// `serve down NAME --replica-id N`); the autoscaler launches a replacement if the service needs one.
	ReplicaID int `json:"replica_id,omitempty"`
}

// ServeDownOutcome is what tearing one service down did.
type ServeDownOutcome struct {
	Name string `json:"service_name"`
	// Message says what happened ("terminated", or why not).
	Message string `json:"message,omitempty"`
}

// ServeLogsOptions say which log `stix serve logs` shows.
type ServeLogsOptions struct {
	// ReplicaID selects a replica's output (0: none; then Controller or LoadBalancer).
	ReplicaID    int  `json:"replica_id,omitempty"`
	Controller   bool `json:"controller,omitempty"`
	LoadBalancer bool `json:"load_balancer,omitempty"`
	Follow       bool `json:"follow,omitempty"`
	// Tail shows only the last Tail lines (0: all).
	Tail int `json:"tail,omitempty"`
}

// ServiceNotFoundError is the error for a service name the controller has no record of.
type ServiceNotFoundError struct{ Name string }

func (e *ServiceNotFoundError) Error() string {
	return fmt.Sprintf("service %q not found: see `stix serve status`", e.Name)
}
