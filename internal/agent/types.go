package agent

import (
	"github.com/stix-run/stix/api"
	"time"

	"github.com/stix-run/stix/internal/agent/fingerprint"
)

// Version is the agent's version, set at link time (-X github.com/stix-run/stix/internal/agent.Version=...).
var Version = "dev"

// JobStatus is a job's state; the values are SkyPilot's, defined once in the public api package.
type JobStatus = api.JobStatus

// The job states, in SkyPilot's order.
const (
	StatusInit         = api.JobInit
	StatusPending      = api.JobPending
	StatusSettingUp    = api.JobSettingUp
	StatusRunning      = api.JobRunning
	StatusSucceeded    = api.JobSucceeded
	StatusFailed       = api.JobFailed
	StatusFailedSetup  = api.JobFailedSetup
	StatusFailedDriver = api.JobFailedDriver
	StatusCancelled    = api.JobCancelled
)

// Demand is what a job needs on each of its nodes.
type Demand struct {
	CPUs         float64            `json:"cpus,omitempty"`
	Accelerators map[string]float64 `json:"accelerators,omitempty"` // e.g. {"H100": 8} or {"T4": 0.5}
}

// JobSpec is a job submission.
type JobSpec struct {
	Name          string            `json:"name,omitempty"`
	User          string            `json:"user,omitempty"`
	NumNodes      int               `json:"num_nodes,omitempty"` // default 1
	DemandPerNode Demand            `json:"demand_per_node"`
	Setup         string            `json:"setup,omitempty"` // run on every cluster node before run
	Run           string            `json:"run"`
	Envs          map[string]string `json:"envs,omitempty"`
	Secrets       map[string]string `json:"secrets,omitempty"` // never logged, stored only until the job ends
	Workdir       string            `json:"workdir,omitempty"` // relative to the node's DIR; default DIR/sky_workdir if present, else DIR
	ResourcesStr  string            `json:"resources_str,omitempty"`
	// RunTimestamp is SkyPilot's run id, "sky-2006-01-02-15-04-05-000000", the first part of SKYPILOT_TASK_ID;
	// the agent makes one from the submission time when it is empty.
	RunTimestamp string `json:"run_timestamp,omitempty"`
}

// SubmitResponse answers POST /v1/jobs.
type SubmitResponse struct {
	JobID int64 `json:"job_id"`
}

// Job is a job as GET /v1/jobs reports it.
type Job struct {
	ID           int64      `json:"id"`
	Name         string     `json:"name"`
	User         string     `json:"user"`
	Status       JobStatus  `json:"status"`
	SubmittedAt  time.Time  `json:"submitted_at"`
	StartedAt    *time.Time `json:"started_at,omitempty"`
	EndedAt      *time.Time `json:"ended_at,omitempty"`
	ExitCode     *int       `json:"exit_code,omitempty"`
	FailedRank   *int       `json:"failed_rank,omitempty"`
	NumNodes     int        `json:"num_nodes"`
	ResourcesStr string     `json:"resources_str"`
	TaskID       string     `json:"task_id"`         // SKYPILOT_TASK_ID
	Nodes        []int      `json:"nodes,omitempty"` // cluster node ranks running the job, in job-rank order
	Message      string     `json:"message,omitempty"`
}

// JobsQuery filters GET /v1/jobs.
type JobsQuery struct {
	SkipFinished bool
	User         string
}

// CancelRequest asks POST /v1/jobs/cancel to cancel jobs by id, or all unfinished jobs (of User, when set).
type CancelRequest struct {
	IDs  []int64 `json:"ids,omitempty"`
	All  bool    `json:"all,omitempty"`
	User string  `json:"user,omitempty"`
}

// CancelResult says what happened to each job named or selected.
type CancelResult struct {
	Jobs []CancelOutcome `json:"jobs"`
}

// CancelOutcome is one job's result. Cancelling a finished job changes nothing and says so.
type CancelOutcome struct {
	ID        int64     `json:"id"`
	Cancelled bool      `json:"cancelled"`
	Status    JobStatus `json:"status,omitempty"` // after the request
	Message   string    `json:"message,omitempty"`
}

// ClusterConfig tells the head about its cluster (POST /v1/cluster); sending it again replaces it.
type ClusterConfig struct {
	ClusterName string          `json:"cluster_name"`
	Cloud       string          `json:"cloud,omitempty"`
	Region      string          `json:"region,omitempty"`
	Zone        string          `json:"zone,omitempty"`
	User        string          `json:"user,omitempty"`
	Nodes       []Node          `json:"nodes"`
	Autostop    *AutostopConfig `json:"autostop,omitempty"`
	// FailFastOnNodeLoss fails a job as soon as a worker's agent has refused connections for AgentGoneAfter
	// (its node died with it), instead of waiting nodeLostAfter for an agent restart (`stix start`). For clusters
	// nobody restarts: a managed job's, whose controller recovers the job elsewhere.
	FailFastOnNodeLoss bool `json:"fail_fast_on_node_loss,omitempty"`
}

// Node is one cluster node. Rank 0 is the head. Resources left empty (cpus 0) are asked of the node's agent.
type Node struct {
	Rank      int                   `json:"rank"`
	IP        string                `json:"ip"`
	AgentAddr string                `json:"agent_addr"`
	Resources fingerprint.Resources `json:"resources"`
}

// AutostopConfig is the head's autostop setting. Once the cluster has had no unfinished job for IdleMinutes
// (the minute's length is --idle-unit), the head stops the cluster itself: every node's agent leaves the mark
// AutostopMarkFile ("stop", or "down" when Down is set), ends its job processes and ends as Exit says
// (POST /v1/shutdown). With no Exit the nodes cannot stop themselves and autostop never fires.
type AutostopConfig struct {
	IdleMinutes int      `json:"idle_minutes"` // -1: off
	Down        bool     `json:"down,omitempty"`
	Exit        NodeExit `json:"exit,omitempty"`
}

// NodeExit is how a node's agent ends once autostop has ended its jobs. The provider of the cluster decides it
// (cloud.SelfStopper).
type NodeExit string

const (
	// ExitAgent: the agent exits; the node (a host, a local directory) stays as it is.
	ExitAgent NodeExit = "agent"
	// ExitContainer: the agent exits and ends the container it runs in, by signalling the container's init
	// process (PID 1; stix's containers run docker-init), which stops the container.
	ExitContainer NodeExit = "container"
	// ExitPoweroff: the agent exits and powers its machine off (`shutdown -h now`, through `sudo -n` when it is
	// not root): a VM whose cloud stops (or terminates) it on a guest power-off, so that autostop needs no cloud
	// credentials on the head.
	ExitPoweroff NodeExit = "poweroff"
	// ExitRequest: the agent exits after sending the HTTP requests the provider gave with the autostop setting
	// (AutostopRequest.Requests), which end the cluster through the cloud's API: for clouds where nothing a node
	// does to itself ends its billing (Lambda, RunPod), so that autodown needs the API key on the head. A node
	// that holds no requests (a worker) only exits.
	ExitRequest NodeExit = "request"
)

// ExitRequestsFile is the file, in an agent's directory, that holds the requests of ExitRequest (JSON, owner
// read and write only: they carry the cloud's API key). Turning autostop off removes it.
const ExitRequestsFile = "autostop-requests.json"

// HTTPRequest is one request an agent sends for ExitRequest. The agent never logs Header or Body.
type HTTPRequest struct {
	Method string            `json:"method"`
	URL    string            `json:"url"`
	Header map[string]string `json:"header,omitempty"`
	Body   string            `json:"body,omitempty"`
}

// AutostopMarkFile is the file, in an agent's directory, that says the agent ended itself for autostop: it holds
// "stop" or "down". A starting agent removes it. Providers read it to tell a node that stopped itself from one
// that died, and the client finishes an autodown (removes what the nodes cannot) when it finds "down".
const AutostopMarkFile = "autostopped"

// AutostopRequest changes the autostop setting (POST /v1/autostop). Cancel turns autostop off; an empty Exit
// keeps the configured one.
type AutostopRequest struct {
	IdleMinutes int      `json:"idle_minutes"`
	Down        bool     `json:"down,omitempty"`
	Cancel      bool     `json:"cancel,omitempty"`
	Exit        NodeExit `json:"exit,omitempty"`
	// Requests replace the requests of ExitRequest that the head keeps (ExitRequestsFile); none keeps them.
	Requests []HTTPRequest `json:"requests,omitempty"`
}

// ShutdownRequest ends a node for autostop (POST /v1/shutdown): the head sends it to every worker, then does
// the same itself.
type ShutdownRequest struct {
	Down bool     `json:"down,omitempty"`
	Exit NodeExit `json:"exit"`
}

// AutostopStatus reports the setting and the idle timer (GET /v1/autostop).
type AutostopStatus struct {
	AutostopConfig
	Busy      bool       `json:"busy"`                 // some job is unfinished
	IdleSince *time.Time `json:"idle_since,omitempty"` // when the cluster last became idle
	FiresAt   *time.Time `json:"fires_at,omitempty"`   // when the hook will run, if nothing changes
	Fired     bool       `json:"fired"`                // autostop stopped the cluster in this idle period
}

// Health answers GET /v1/health.
type Health struct {
	Version     string                `json:"version"`
	PID         int                   `json:"pid"`
	StartedAt   time.Time             `json:"started_at"`
	Dir         string                `json:"dir"`
	Resources   fingerprint.Resources `json:"resources"`
	Head        bool                  `json:"head"` // holds a job table
	ClusterName string                `json:"cluster_name,omitempty"`
}

// ProcSpec starts one process of a job on a node (POST /v1/procs): a rank's run or a node's setup.
type ProcSpec struct {
	ID      string            `json:"id"`     // unique on the node; starting an existing id returns it
	Script  string            `json:"script"` // bash source
	Env     map[string]string `json:"env,omitempty"`
	Workdir string            `json:"workdir,omitempty"`
}

// ProcState is a node process's state.
type ProcState string

// Process states. Lost: the process is gone and left no exit code (killed with its wrapper while no agent was
// watching).
const (
	ProcRunning ProcState = "running"
	ProcExited  ProcState = "exited"
	ProcLost    ProcState = "lost"
)

// ProcStatus describes a node process.
type ProcStatus struct {
	ID        string    `json:"id"`
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"started_at"`
	State     ProcState `json:"state"`
	ExitCode  int       `json:"exit_code"` // valid when exited
}

// SignalRequest signals a process's group (POST /v1/procs/{id}/signal): "TERM", "KILL" or "INT".
type SignalRequest struct {
	Signal string `json:"signal"`
}

// errorBody is every error response's body.
type errorBody struct {
	Error string `json:"error"`
}
