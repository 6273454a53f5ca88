package api

// LaunchOptions are the choices of `stix launch` beyond the task itself.
type LaunchOptions struct {
	// ClusterName is the cluster to create or reuse; empty means a generated name.
	ClusterName string `json:"cluster_name,omitempty"`
	// IdleMinutes turns autostop on after this many idle minutes; nil keeps the task's or cluster's setting.
	IdleMinutes *int `json:"idle_minutes_to_autostop,omitempty"`
	// Down tears the cluster down, instead of stopping it, when autostop fires (idle 0 minutes when IdleMinutes
	// is nil).
	Down bool `json:"down,omitempty"`
	// NoSetup skips the task's setup on an existing cluster.
	NoSetup bool `json:"no_setup,omitempty"`
	// Fast skips setup when the cluster is already UP (SkyPilot's --fast); a new, stopped or interrupted cluster
	// is launched in full.
	Fast bool `json:"fast,omitempty"`
	// RetryUntilUp keeps retrying provisioning when no capacity is found.
	RetryUntilUp bool `json:"retry_until_up,omitempty"`
	// Command is the command line that made the request, shown in `status` as the cluster's last use.
	Command string `json:"command,omitempty"`
	// AvoidInfra rules places out of a new cluster's failover, each "cloud" or "cloud/region": a managed job's
	// recovery avoids the region where it lost its cluster (job_recovery EAGER_NEXT_REGION).
	AvoidInfra []string `json:"avoid_infra,omitempty"`
	// FailFastOnNodeLoss makes a new cluster's head fail a job within seconds when a worker node dies with its
	// agent, instead of waiting for the agent to be restarted (`stix start`): for clusters nobody restarts, such
	// as a managed job's, whose controller recovers the job on a new cluster.
	FailFastOnNodeLoss bool `json:"fail_fast_on_node_loss,omitempty"`
	// Progress is the core's in-process hook for the steps ("Launching on Local", "Syncing files"); nil
	// discards them. Client ignores it: a Client's caller reads the steps as the Operation's Events.
	Progress ProgressFunc `json:"-"`
}

// ExecOptions are the choices of `stix exec` beyond the task itself.
type ExecOptions struct {
	// Command is the command line that made the request, shown in `status` as the cluster's last use.
	Command string `json:"command,omitempty"`
	// Progress is the core's in-process hook, as LaunchOptions.Progress; Client ignores it.
	Progress ProgressFunc `json:"-"`
}

// LaunchResult says what a launch or exec did.
type LaunchResult struct {
	ClusterName string `json:"cluster_name"`
	// JobID is the job submitted for the task; 0 when the task has nothing to run.
	JobID int `json:"job_id,omitempty"`
	// Provisioned is true when the cluster was created or restarted by this call.
	Provisioned bool `json:"provisioned"`
}

// LogsOptions select what `stix logs` streams.
type LogsOptions struct {
	Follow bool `json:"follow"`
	// Tail is the number of last lines to show; 0 shows everything.
	Tail int `json:"tail,omitempty"`
}

// AutostopOptions change a cluster's autostop setting.
type AutostopOptions struct {
	IdleMinutes int  `json:"idle_minutes"`
	Down        bool `json:"down,omitempty"`
	Cancel      bool `json:"cancel,omitempty"`
}

// CancelOutcome is what a cancel request did to one job.
type CancelOutcome struct {
	JobID     int       `json:"job_id"`
	Cancelled bool      `json:"cancelled"`
	Status    JobStatus `json:"status"`
	Message   string    `json:"message,omitempty"`
}

// Plan is what `launch --dryrun` shows: per task, SkyPilot's "Considered resources" table and the choice.
type Plan struct {
	Header []string   `json:"header"`
	Tasks  []PlanTask `json:"tasks"`
}

// PlanTask is one task's placement and the candidates considered for it.
type PlanTask struct {
	Name         string    `json:"name"`
	Nodes        int       `json:"num_nodes"`
	Infra        string    `json:"infra"`
	InstanceType string    `json:"instance_type,omitempty"`
	HourlyCost   float64   `json:"hourly_cost"` // all nodes, USD
	Rows         []PlanRow `json:"considered"`
}

// PlanRow is one row of the considered-resources table: its cells in Plan.Header's order, for people, and the
// same candidate as fields of their own, for programs. Every field is always present; a place or an instance
// type the infra does not have is "", no accelerators is null.
type PlanRow struct {
	Cells  []string `json:"cells"`
	Chosen bool     `json:"chosen"`
	// Cloud is the infra's name as --infra takes it ("aws", "local"); Region and Zone its place.
	Cloud        string `json:"cloud"`
	Region       string `json:"region"`
	Zone         string `json:"zone"`
	InstanceType string `json:"instance_type"`
	// Accelerators are per node, by name ({"A100": 8}).
	Accelerators map[string]float64 `json:"accelerators"`
	UseSpot      bool               `json:"use_spot"`
	// HourlyCost is USD per hour for all NumNodes nodes; 0 on infra the user already has.
	HourlyCost float64 `json:"hourly_cost"`
	NumNodes   int     `json:"num_nodes"`
}
