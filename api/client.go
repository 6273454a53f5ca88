package api

import (
	"context"
	"io"
	"strconv"
	"strings"
)

// Client is stix's Go SDK: every front end (the CLI, the dashboard, programs) reaches the core through it and
// nothing else. Its arguments and results are wire types (JSON-serialisable, see wire_test.go), so that the
// embedded implementation (the core in this process, over $STIX_HOME) and an HTTP implementation (a `stix api`
// server) are interchangeable.
//
// Reads return their result. Every call that changes something (Launch, Exec, Cancel, Start, Stop, Down,
// Autostop, Check, SSHUp, SSHDown) returns an *Operation at once: its Events stream what happens, and Wait
// returns the outcome; an HTTP implementation feeds both from the request's streamed log, and the Operation's
// ID is the request ID (what `--async` prints).
type Client interface {
	// Validate reads a task as Launch, Exec and Plan would and reports its problems, notes and config warnings.
	// The error is for a request that could not be checked at all; a bad task is a TaskCheck with Errors.
	Validate(ctx context.Context, task TaskSpec) (*TaskCheck, error)
	// Plan shows where the task would run and what was considered (`launch --dryrun`); nothing changes.
	Plan(ctx context.Context, task TaskSpec) (*Plan, error)
	// Launch provisions or reuses a cluster and queues the task on it.
	Launch(ctx context.Context, req LaunchRequest) (*Operation[LaunchResult], error)
	// Exec queues the task on an UP cluster, without setup.
	Exec(ctx context.Context, req ExecRequest) (*Operation[LaunchResult], error)

	// Status lists clusters (all when names is empty), reconciled with their providers when refresh is set.
	Status(ctx context.Context, names []string, refresh bool) ([]Cluster, error)
	// Match expands cluster names and globs; all selects every cluster.
	Match(ctx context.Context, patterns []string, all bool) ([]string, error)
	// Queue lists a cluster's jobs.
	Queue(ctx context.Context, cluster string, skipFinished bool) ([]Job, error)
	// Job returns one job (id 0: the latest).
	Job(ctx context.Context, cluster string, id int) (Job, error)
	// Logs writes a job's output to w (id 0: the latest) and returns the job as it ended or stands. An HTTP
	// implementation copies the streamed response into w.
	Logs(ctx context.Context, cluster string, id int, opts LogsOptions, w io.Writer) (Job, error)
	// Endpoints returns where the ports a cluster exposes (its resources.ports) are reached: "host:port" or a
	// URL, by port. port 0 asks for every exposed port; another port must be one of them. A cluster that exposes
	// no ports answers an empty map; one that is not UP, or a port it does not expose, an error.
	Endpoints(ctx context.Context, cluster string, port int) (map[int]string, error)
	// Nodes lists a cluster's nodes in rank order, as recorded when it came up (no provider is asked). A
	// cluster whose launch has not recorded its nodes yet has none; an unknown one is a ClusterNotFoundError.
	Nodes(ctx context.Context, cluster string) ([]ClusterNode, error)
	// WatchCluster follows a cluster's nodes as its provider reports them: the channel carries an event for
	// each node not running when the watch began, then one for each node lost; it is closed when ctx ends or
	// the provider's watch breaks (watch again, or fall back to asking Status). Infra whose provider cannot
	// watch answers an error wrapping errors.ErrUnsupported.
	WatchCluster(ctx context.Context, cluster string) (<-chan ClusterEvent, error)
	// Cancel cancels jobs by id, or all unfinished ones.
	Cancel(ctx context.Context, cluster string, ids []int, all bool) (*Operation[[]CancelOutcome], error)

	// Stop, Start and Down change a cluster's lifecycle.
	Stop(ctx context.Context, cluster string) (*Operation[Done], error)
	Start(ctx context.Context, cluster string) (*Operation[Done], error)
	Down(ctx context.Context, cluster string, purge bool) (*Operation[Done], error)
	// Autostop changes a cluster's autostop setting.
	Autostop(ctx context.Context, cluster string, opts AutostopOptions) (*Operation[Done], error)
	// CostReport lists every cluster launched, with its estimated cost.
	CostReport(ctx context.Context) ([]CostReportEntry, error)

	// Check checks the credentials of the infra named (all when none), records which are enabled and
	// returns the results with the enabled set. The checks read files and variables only; with verify
	// (`check -v`) each provider that can also confirms the credentials found with one read-only API call,
	// and an infra whose credentials are rejected is disabled.
	Check(ctx context.Context, infra []string, verify bool) (*Operation[CheckResult], error)
	// Accelerators lists the accelerators on offer and their counts (`show-gpus` without a name).
	Accelerators(ctx context.Context, q GPUQuery) ([]AcceleratorCounts, error)
	// Offers lists the instance types that offer an accelerator, with prices (`show-gpus NAME`).
	Offers(ctx context.Context, q GPUQuery) ([]Offer, error)
	// SSHUp sets up the hosts of SSH node pools; SSHDown cleans them up. Each host's outcome is an event.
	SSHUp(ctx context.Context, req SSHPoolRequest) (*Operation[[]SSHHostResult], error)
	SSHDown(ctx context.Context, req SSHPoolRequest) (*Operation[[]SSHHostResult], error)

	// ManagedJobs are `stix jobs`: answered by an API server's controller.
	ManagedJobs
	// Pools are `stix jobs pool`: answered by an API server's managed-jobs controller.
	Pools
	// Services are `stix serve`: answered by an API server's serve controller.
	Services
	// StorageClient is `stix storage`.
	StorageClient

	// Close releases the client.
	Close() error
}

// LaunchRequest is a task to launch and how.
type LaunchRequest struct {
	Task    TaskSpec      `json:"task"`
	Options LaunchOptions `json:"options"`
}

// ExecRequest is a task to run on an existing cluster.
type ExecRequest struct {
	Cluster string      `json:"cluster"`
	Task    TaskSpec    `json:"task"`
	Options ExecOptions `json:"options"`
}

// Done is the result of an operation that returns nothing but its outcome.
type Done struct{}

// CheckResult is what `stix check` found.
type CheckResult struct {
	// Results are the infra checked, in stix's order.
	Results []InfraCheck `json:"results"`
	// Enabled is every enabled infra after this check (infra not checked keep their earlier state).
	Enabled []string `json:"enabled"`
	// SaveError says why the enabled set could not be recorded (Enabled is then empty); the check failed.
	SaveError string `json:"save_error,omitempty"`
}

// InfraCheck is one infra's credential check.
type InfraCheck struct {
	Infra   string `json:"infra"` // canonical name: aws, kubernetes, ssh, local, ...
	Enabled bool   `json:"enabled"`
	// Reason says why the infra is disabled, or, when enabled, a hint worth showing.
	Reason string `json:"reason,omitempty"`
	// Detail names the credentials in use (shown with -v).
	Detail string `json:"detail,omitempty"`
	// Contexts are the Kubernetes contexts, SSH pools or Slurm clusters found.
	Contexts []string `json:"contexts,omitempty"`
}

// GPUQuery selects what `show-gpus` lists.
type GPUQuery struct {
	// Name is the accelerator asked for (Offers matches names containing it); empty for Accelerators.
	Name string `json:"name,omitempty"`
	// Count is the accelerator count asked for; 0 means any count.
	Count int `json:"count,omitempty"`
	// Infra limits the query to a cloud or cloud/region ("aws", "*/us-east-1"); empty means every enabled cloud.
	Infra string `json:"infra,omitempty"`
	// AllClouds looks at every cloud in the catalog, enabled or not.
	AllClouds bool `json:"all_clouds,omitempty"`
	// AllRegions keeps one offer per region rather than only the cheapest region's (Offers only).
	AllRegions bool `json:"all_regions,omitempty"`
}

// AcceleratorCounts is one accelerator and the counts in which some cloud in scope offers it (each count
// launchable, i.e. the catalog prices an instance for it). It is also `show-gpus -o json`'s row.
type AcceleratorCounts struct {
	Name   string    `json:"name"`
	Group  string    `json:"group"` // COMMON_GPU, GOOGLE_TPU or OTHER_GPU
	Counts []float64 `json:"counts"`
	Clouds []string  `json:"clouds"`
	// Nodes are, for infra whose GPUs are the user's own nodes (`show-gpus --infra k8s`), the nodes with this
	// GPU right now; Counts are then the quantities one node can be asked for, and Clouds its contexts.
	Nodes []NodeGPUs `json:"nodes,omitempty"`
}

// NodeGPUs is one node's GPUs: how many it has and how many no running or pending pod requests.
type NodeGPUs struct {
	Context string `json:"context"`
	Node    string `json:"node"`
	Total   int    `json:"total"`
	Free    int    `json:"free"`
}

// Quantities writes the counts as SkyPilot does: "1, 2, 4, 8", "0.5, 1".
func (a AcceleratorCounts) Quantities() string {
	s := make([]string, len(a.Counts))
	for i, n := range a.Counts {
		s[i] = strconv.FormatFloat(n, 'f', -1, 64)
	}
	return strings.Join(s, ", ")
}

// Accelerator groups of the listing, as SkyPilot names its tables.
const (
	GroupCommonGPU = "COMMON_GPU"
	GroupGoogleTPU = "GOOGLE_TPU"
	GroupOtherGPU  = "OTHER_GPU"
)

// Offer is an instance type offering an accelerator, in its cheapest region (or one region with AllRegions).
// It is also `show-gpus NAME -o json`'s row; a price is null when there is none.
type Offer struct {
	Accelerator     string   `json:"accelerator"`
	Count           float64  `json:"count"`
	Cloud           string   `json:"cloud"`
	InstanceType    string   `json:"instance_type"`
	DeviceMemoryGiB float64  `json:"device_memory_gib,omitempty"`
	VCPUs           float64  `json:"vcpus,omitempty"`
	MemoryGiB       float64  `json:"memory_gib,omitempty"`
	HourlyPrice     *float64 `json:"hourly_price"`
	HourlySpotPrice *float64 `json:"hourly_spot_price"`
	Region          string   `json:"region"`
}

// SSHPoolRequest names the SSH node pools `stix ssh up` or `down` acts on.
type SSHPoolRequest struct {
	// Pool is one pool's name; empty means every pool in the file.
	Pool string `json:"pool,omitempty"`
	// File is the node pools file; empty means ~/.stix/ssh_node_pools.yaml (or SkyPilot's, when only it exists).
	File string `json:"file,omitempty"`
}

// SSHHostResult is the outcome of setting up or cleaning up one host of a pool.
type SSHHostResult struct {
	Pool string `json:"pool"`
	Host string `json:"host"`
	// Shape is the host's resources, as `ssh up` shows them ("8 CPUs, 31GB, 1x H100"); set after an up.
	Shape string `json:"shape,omitempty"`
	// Error says why the host failed; empty on success.
	Error string `json:"error,omitempty"`
}
