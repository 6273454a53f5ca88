// Package api is stix's public Go SDK: the Client interface and its wire types (what `-o json` prints and what the
// API server sends).
// It never imports stix's internal packages.
package api

import (
	"fmt"
	"strconv"
	"time"
)

// ClusterStatus is a cluster's state, as SkyPilot names it.
type ClusterStatus string

// Cluster states.
const (
	ClusterInit    ClusterStatus = "INIT"
	ClusterUp      ClusterStatus = "UP"
	ClusterStopped ClusterStatus = "STOPPED"
)

// JobStatus is the state of a job on a cluster, as SkyPilot names it.
type JobStatus string

// Job states.
const (
	JobInit         JobStatus = "INIT"
	JobPending      JobStatus = "PENDING"
	JobSettingUp    JobStatus = "SETTING_UP"
	JobRunning      JobStatus = "RUNNING"
	JobSucceeded    JobStatus = "SUCCEEDED"
	JobFailed       JobStatus = "FAILED"
	JobFailedSetup  JobStatus = "FAILED_SETUP"
	JobFailedDriver JobStatus = "FAILED_DRIVER"
	JobCancelled    JobStatus = "CANCELLED"
)

// IsTerminal reports whether a job in this state will never change again.
func (s JobStatus) IsTerminal() bool {
	switch s {
	case JobSucceeded, JobFailed, JobFailedSetup, JobFailedDriver, JobCancelled:
		return true
	}
	return false
}

// Cluster is one row of `stix status`.
// DefaultWorkspace is the workspace of a cluster launched with no active_workspace, as SkyPilot's.
const DefaultWorkspace = "default"

type Cluster struct {
	Name       string        `json:"name"`
	Status     ClusterStatus `json:"status"`
	Infra      string        `json:"infra"` // e.g. "Local", "AWS (us-east-1)"
	Cloud      string        `json:"cloud"`
	Region     string        `json:"region,omitempty"`
	Zone       string        `json:"zone,omitempty"`
	NumNodes   int           `json:"num_nodes"`
	Resources  string        `json:"resources"` // e.g. "1x(cpus=2, mem=7.6)"
	HeadIP     string        `json:"head_ip,omitempty"`
	LaunchedAt time.Time     `json:"launched_at"`
	LastUse    string        `json:"last_use,omitempty"`
	User       string        `json:"user,omitempty"`
	// Workspace is the workspace the cluster was launched in ("default" when none was active).
	Workspace    string  `json:"workspace,omitempty"`
	AutostopMins int     `json:"autostop"` // -1: autostop off
	ToDown       bool    `json:"to_down"`
	HourlyPrice  float64 `json:"hourly_price"`
	// Note says why the status is what it is after a refresh, e.g. "node 1 is not running".
	Note string `json:"note,omitempty"`
}

// Job is one row of `stix queue`.
type Job struct {
	ID          int        `json:"job_id"`
	Name        string     `json:"job_name"`
	User        string     `json:"username"`
	Status      JobStatus  `json:"status"`
	SubmittedAt time.Time  `json:"submitted_at"`
	StartedAt   *time.Time `json:"start_at,omitempty"`
	EndedAt     *time.Time `json:"end_at,omitempty"`
	Resources   string     `json:"resources"`
	NumNodes    int        `json:"num_nodes"`
	ExitCode    *int       `json:"exit_code,omitempty"`
}

// CostReportEntry is one row of `stix cost-report`.
type CostReportEntry struct {
	Name        string    `json:"name"`
	Status      string    `json:"status"` // a cluster state, or TERMINATED once torn down
	NumNodes    int       `json:"num_nodes"`
	Resources   string    `json:"resources"`
	LaunchedAt  time.Time `json:"launched_at"`
	Duration    Seconds   `json:"duration"`
	HourlyPrice float64   `json:"cost_per_hour"` // for all nodes
	TotalCost   float64   `json:"total_cost"`
}

// Seconds is a duration that JSON carries as whole seconds, as SkyPilot's API does.
type Seconds time.Duration

// MarshalJSON writes whole seconds.
func (s Seconds) MarshalJSON() ([]byte, error) {
	return strconv.AppendInt(nil, int64(time.Duration(s)/time.Second), 10), nil
}

// UnmarshalJSON reads seconds, whole or fractional.
func (s *Seconds) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("duration: want seconds, got %s", b)
	}
	*s = Seconds(f * float64(time.Second))
	return nil
}

// ClusterEvent is a change of one node of a cluster that its provider reported (Client.WatchCluster).
type ClusterEvent struct {
	Cluster string `json:"cluster"`
	// Rank is the node's rank: 0 is the head.
	Rank int `json:"rank"`
	// Status is the node's state now: NodeStopped or NodeMissing. Either way the node no longer runs its part
	// of the cluster's jobs.
	Status NodeStatus `json:"status"`
	// Reason is what happened, in the provider's words ("container stix-1a2b-c-1 died (exit code 137)").
	Reason string `json:"reason,omitempty"`
	// At is when the provider saw it; zero for a node found not running when the watch began.
	At time.Time `json:"at,omitzero"`
}

// NodeStatus is a node's state in a ClusterEvent.
type NodeStatus string

// The node states of ClusterEvent.
const (
	NodeStopped NodeStatus = "STOPPED" // it stopped or died; its disk may remain
	NodeMissing NodeStatus = "MISSING" // it is gone: removed, deleted, preempted
)

// ClusterNode is one node of a cluster as stix recorded it when the cluster came up (Client.Nodes): where it
// is, what it has. Rank 0 is the head.
type ClusterNode struct {
	Rank int `json:"rank"`
	// Role is "head" (rank 0) or "worker".
	Role       string `json:"role"`
	InternalIP string `json:"internal_ip"`
	ExternalIP string `json:"external_ip,omitempty"`
	// Status is the cluster's recorded state: stix records one state for all of a cluster's nodes (UP: all
	// running; STOPPED: all stopped; INIT: launching, or some node not running at the last refresh).
	Status ClusterStatus `json:"status"`
	Cloud  string        `json:"cloud"`
	Region string        `json:"region,omitempty"`
	Zone   string        `json:"zone,omitempty"`
	// InstanceType is the instance type the node was launched as, on infra that has them.
	InstanceType string `json:"instance_type,omitempty"`
	Spot         bool   `json:"spot,omitempty"`
	// CPUs, MemoryGB and Accelerators are what the node's agent measured.
	CPUs         float64            `json:"cpus"`
	MemoryGB     float64            `json:"memory_gb"`
	Accelerators map[string]float64 `json:"accelerators,omitempty"`
}
