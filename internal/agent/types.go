package agent

import (
	"github.com/stix-run/stix/api"
	"sort"
	"strings"
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
	// TokenURL, when set, is fetched first (GET, header "Metadata: true"; Azure's instance metadata service for
	// a managed identity) and its answer's access_token sent as "Authorization: Bearer".
	TokenURL string `json:"token_url,omitempty"`
	// RootCAs are PEM certificates trusted for this request (and its TokenURL) besides the system's.
	RootCAs string `json:"root_cas,omitempty"`
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

// MountMode is how a bucket reaches a node (SkyPilot's storage modes).
type MountMode string

const (
	// MountModeMount streams reads from the bucket and writes through to it as files are closed
	// (rclone mount, --vfs-cache-mode off).
	MountModeMount MountMode = "MOUNT"
	// MountModeCached writes through a local disk cache that is uploaded in the background
	// (rclone mount, --vfs-cache-mode writes); flushed before a job is reported finished.
	MountModeCached MountMode = "MOUNT_CACHED"
	// MountModeCopy downloads the bucket's objects into Dest before the call returns.
	MountModeCopy MountMode = "COPY"
)

// Stores a Mount may name.
const (
	StoreS3  = "s3"  // AWS S3 and every S3-compatible store reached by Endpoint (MinIO, ...)
	StoreGCS = "gcs" // Google Cloud Storage
	StoreR2  = "r2"  // Cloudflare R2 (S3 API; Endpoint is the account's https://ACCOUNT.r2.cloudflarestorage.com)
)

// Mount is one bucket (or a sub-path of one) to make available at Dest on a node (POST /v1/mounts). Creds are
// secrets: they reach the mounting process's environment and nothing else (never a log line, a response or a
// file on the node).
type Mount struct {
	Dest     string    `json:"dest"` // absolute, or relative to the jobs' $HOME ("~/data" too)
	Mode     MountMode `json:"mode"`
	Store    string    `json:"store"` // StoreS3, StoreGCS, StoreR2
	Bucket   string    `json:"bucket"`
	Prefix   string    `json:"prefix,omitempty"` // sub-path inside the bucket, without leading '/'
	Endpoint string    `json:"endpoint,omitempty"`
	Region   string    `json:"region,omitempty"`
	// PathStyle addresses the bucket as ENDPOINT/BUCKET rather than BUCKET.ENDPOINT (S3-compatible stores
	// reached by IP address, MinIO).
	PathStyle bool       `json:"path_style,omitempty"`
	Creds     StoreCreds `json:"creds,omitempty"`
	ReadOnly  bool       `json:"read_only,omitempty"`
	// MountOptions are extra rclone mount flags, separated by spaces (e.g. "--vfs-cache-max-size 10G").
	MountOptions string `json:"mount_options,omitempty"`
}

// StoreCreds are the credentials a node uses to reach a store. S3 and R2 take an access key (and a session
// token for temporary credentials); GCS takes an OAuth access token or a service account's JSON key; none of
// them set means anonymous access (GCS) or the node's own environment (S3: instance roles).
type StoreCreds struct {
	AccessKeyID       string `json:"access_key_id,omitempty"`
	SecretAccessKey   string `json:"secret_access_key,omitempty"`
	SessionToken      string `json:"session_token,omitempty"`
	GCSAccessToken    string `json:"gcs_access_token,omitempty"`
	GCSServiceAccount string `json:"gcs_service_account,omitempty"` // the key file's JSON text
}

// String never shows a secret: creds that end up in a format verb print only which fields are set.
func (c StoreCreds) String() string {
	var set []string
	for name, v := range map[string]string{"access_key_id": c.AccessKeyID, "secret_access_key": c.SecretAccessKey,
		"session_token": c.SessionToken, "gcs_access_token": c.GCSAccessToken, "gcs_service_account": c.GCSServiceAccount} {
		if v != "" {
			set = append(set, name)
		}
	}
	sort.Strings(set)
	return "creds{" + strings.Join(set, ",") + "}"
}

// GoString is String, for %#v.
func (c StoreCreds) GoString() string { return c.String() }

// MountsRequest makes a node's mounts (POST /v1/mounts), in order.
type MountsRequest struct {
	Mounts []Mount `json:"mounts"`
}

// MountStatus is one mount of a node, as the agent reports it (never with credentials).
type MountStatus struct {
	Dest   string    `json:"dest"`
	Mode   MountMode `json:"mode"`
	Store  string    `json:"store"`
	Bucket string    `json:"bucket"`
	Prefix string    `json:"prefix,omitempty"`
	PID    int       `json:"pid,omitempty"` // the rclone process (MOUNT, MOUNT_CACHED)
	// Error says why this mount failed (the call's other mounts are made regardless); empty when it worked.
	Error string `json:"error,omitempty"`
}

// MountsResponse answers POST /v1/mounts, /v1/mounts/flush and /v1/mounts/unmount and GET /v1/mounts: one entry
// per mount, each with its own Error (HTTP 200 even when some failed; the Go client then also returns an error
// naming every failed mount).
type MountsResponse struct {
	Mounts []MountStatus `json:"mounts"`
}

// MountCapability answers GET /v1/mounts/capability: whether this node can make FUSE mounts, and if not, why.
type MountCapability struct {
	CanMount bool   `json:"can_mount"`
	Reason   string `json:"reason,omitempty"`
	Rclone   string `json:"rclone,omitempty"`     // the rclone found, with its version
	Fuse     string `json:"fuse,omitempty"`       // the FUSE device
	Unmount  string `json:"fusermount,omitempty"` // fusermount3 or fusermount
}
