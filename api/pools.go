package api

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Pools are `stix jobs pool`: pools of worker clusters that managed jobs submitted with --pool run on, without a
// cluster of their own. Like managed jobs, an API server's controller answers them (the embedded core answers
// a NeedsServerError).
type Pools interface {
	// PoolApply creates a pool from a task with a `pool:` section, gives an existing one a new task (its idle
	// workers are replaced), or, with no task, changes its number of workers.
	PoolApply(ctx context.Context, req PoolApplyRequest) (*Operation[PoolApplyResult], error)
	// PoolStatus lists pools (all when names is empty) with their workers, oldest first. An unknown name is a
	// PoolNotFoundError.
	PoolStatus(ctx context.Context, names []string) ([]Pool, error)
	// PoolDown deletes pools: their unfinished jobs are cancelled and their workers torn down.
	PoolDown(ctx context.Context, req PoolDownRequest) (*Operation[[]string], error)
	// PoolLogs writes a pool's controller log (what its runner did), or the setup output of one of its workers.
	PoolLogs(ctx context.Context, name string, opts PoolLogsOptions, w io.Writer) error
}

// PoolLogsOptions select what `stix jobs pool logs` shows: the controller's log, or WorkerID's setup output.
// With Follow, the controller's log goes on until the pool is deleted, a worker's until its setup ended.
type PoolLogsOptions struct {
	Controller bool `json:"controller,omitempty"`
	WorkerID   int  `json:"worker_id,omitempty"`
	Follow     bool `json:"follow,omitempty"`
	// Tail shows only the last Tail lines (0: all).
	Tail int `json:"tail,omitempty"`
}

// PoolApplyRequest is `stix jobs pool apply`: Task (a YAML with a `pool:` section) or Workers, or both.
type PoolApplyRequest struct {
	// Name is the pool's name (-p); generated when empty.
	Name string `json:"pool_name,omitempty"`
	// Task is the workers' task; empty (no YAML) with Workers to resize an existing pool.
	Task *TaskSpec `json:"task,omitempty"`
	// Workers overrides pool.workers (--workers).
	Workers *int `json:"workers,omitempty"`
}

// PoolApplyResult names the pool applied and its version.
type PoolApplyResult struct {
	Name    string `json:"pool_name"`
	Version int    `json:"version"`
	Created bool   `json:"created"`
}

// PoolDownRequest selects the pools to delete: Names, or All.
type PoolDownRequest struct {
	Names []string `json:"pool_names,omitempty"`
	All   bool     `json:"all,omitempty"`
}

// PoolStatus is a pool's state, SkyServe's service states (a pool is served by the same kind of controller in
// SkyPilot).
type PoolStatus string

// Pool states.
const (
	PoolReplicaInit  PoolStatus = "REPLICA_INIT"  // no worker ready yet, some provisioning
	PoolReady        PoolStatus = "READY"         // at least one worker ready
	PoolNoReplica    PoolStatus = "NO_REPLICA"    // no worker
	PoolShuttingDown PoolStatus = "SHUTTING_DOWN" // being deleted
)

// WorkerStatus is a pool worker's state (SkyServe's replica states).
type WorkerStatus string

// Worker states.
const (
	WorkerProvisioning WorkerStatus = "PROVISIONING" // its cluster is being launched (setup included)
	WorkerReady        WorkerStatus = "READY"        // up: runs a job, or waits for one
	WorkerFailed       WorkerStatus = "FAILED"       // its cluster was lost or could not be launched; being replaced
	WorkerShuttingDown WorkerStatus = "SHUTTING_DOWN"
)

// Pool is one pool as `stix jobs pool status` shows it.
type Pool struct {
	Name      string     `json:"name"`
	User      string     `json:"user_name"`
	Version   int        `json:"version"`
	CreatedAt time.Time  `json:"created_at"`
	Status    PoolStatus `json:"status"`
	// Workers is the number asked for; ReadyWorkers how many are READY.
	Workers      int      `json:"target_num_workers"`
	ReadyWorkers int      `json:"ready_workers"`
	Resources    string   `json:"requested_resources"`
	WorkerList   []Worker `json:"workers"`
}

// Worker is one worker of a pool.
type Worker struct {
	ID         int          `json:"worker_id"`
	Version    int          `json:"version"`
	Cluster    string       `json:"cluster_name"`
	Status     WorkerStatus `json:"status"`
	Infra      string       `json:"infra,omitempty"`
	LaunchedAt *time.Time   `json:"launched_at,omitempty"`
	// JobID is the managed job running on it (USED_BY), 0 when idle.
	JobID   int64  `json:"used_by,omitempty"`
	Message string `json:"message,omitempty"`
}

// PoolNotFoundError is the error for a pool name with no pool (or another user's).
type PoolNotFoundError struct{ Name string }

func (e *PoolNotFoundError) Error() string {
	return fmt.Sprintf("pool %q not found: see `stix jobs pool status`, or create it with `stix jobs pool apply -p %s POOL_YAML`", e.Name, e.Name)
}
