package store

import (
	"encoding/json"
	"time"
)

// ClusterStatus is a cluster's state, as SkyPilot names them.
type ClusterStatus string

// The cluster states. INIT: provisioning, or in an abnormal state; UP: healthy and running; STOPPED: nodes
// stopped, disks kept.
const (
	StatusInit    ClusterStatus = "INIT"
	StatusUp      ClusterStatus = "UP"
	StatusStopped ClusterStatus = "STOPPED"
)

// Valid reports whether s is one of the cluster states.
func (s ClusterStatus) Valid() bool {
	return s == StatusInit || s == StatusUp || s == StatusStopped
}

// AutostopOff is the Autostop.IdleMinutes value that disables autostop.
const AutostopOff = -1

// Cluster is what the store knows about one live cluster (one that has not been taken down).
type Cluster struct {
	Name            string          `json:"name"`
	ID              string          `json:"id"` // this incarnation's id, assigned by the store; equals HistoryEntry.ID
	Status          ClusterStatus   `json:"status"`
	Cloud           string          `json:"cloud"`
	Region          string          `json:"region,omitempty"`
	Zone            string          `json:"zone,omitempty"`
	NumNodes        int             `json:"num_nodes"`
	Resources       Resources       `json:"resources"`
	HourlyPrice     float64         `json:"hourly_price"` // per node, in dollars
	Handle          json.RawMessage `json:"handle,omitempty"`
	LaunchedAt      time.Time       `json:"launched_at"` // the last launch or start
	StatusUpdatedAt time.Time       `json:"status_updated_at"`
	LastUse         LastUse         `json:"last_use"`
	Autostop        Autostop        `json:"autostop"`
	User            string          `json:"user,omitempty"`
	// Workspace is the workspace the cluster was launched in (its active_workspace); "" is stored as
	// api.DefaultWorkspace.
	Workspace   string `json:"workspace,omitempty"`
	ConfigHash  string `json:"config_hash,omitempty"`
	ClusterYAML string `json:"cluster_yaml,omitempty"`
	// Assignment is the plan the cluster was launched with, as JSON (provision.Assignment): the offer, the
	// task's candidate it answers, the per-node requirements and the job demand. Empty for a cluster recorded
	// before stix kept it.
	Assignment json.RawMessage `json:"assignment,omitempty"`
}

// Resources describes one node of a cluster.
type Resources struct {
	InstanceType string             `json:"instance_type,omitempty"`
	CPUs         float64            `json:"cpus,omitempty"`
	MemoryGB     float64            `json:"memory_gb,omitempty"`
	Accelerators map[string]float64 `json:"accelerators,omitempty"` // name -> count; fractional GPUs allowed
	UseSpot      bool               `json:"use_spot,omitempty"`
	DiskSizeGB   int                `json:"disk_size_gb,omitempty"`
}

// LastUse is the last stix command that used a cluster.
type LastUse struct {
	At      time.Time `json:"at"`
	Command string    `json:"command"`
}

// Autostop is a cluster's autostop setting.
type Autostop struct {
	IdleMinutes int  `json:"idle_minutes"` // AutostopOff (-1) disables autostop
	Down        bool `json:"down"`         // tear the cluster down instead of stopping it
}

// HistoryEntry is one incarnation of a cluster, kept after the cluster is taken down; a re-launch under the same
// name after down is a new entry.
type HistoryEntry struct {
	ID          string        `json:"id"`
	Name        string        `json:"name"`
	Cloud       string        `json:"cloud"`
	Region      string        `json:"region,omitempty"`
	Zone        string        `json:"zone,omitempty"`
	NumNodes    int           `json:"num_nodes"`
	Resources   Resources     `json:"resources"`
	HourlyPrice float64       `json:"hourly_price"` // per node
	LaunchedAt  time.Time     `json:"launched_at"`  // when this incarnation was first launched
	Intervals   []Interval    `json:"intervals"`    // the times it was UP, oldest first
	Status      ClusterStatus `json:"status"`       // the last status it had
	DeletedAt   time.Time     `json:"deleted_at"`   // zero while the cluster exists
}

// Interval is a span of time a cluster incarnation was UP (billed); a zero End means it still is.
type Interval struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Usage returns how long the incarnation has been UP up to now, and what that cost: hourly price × nodes × hours.
// An open interval counts up to now; spans that end before they start (clock steps) count as zero.
func (h *HistoryEntry) Usage(now time.Time) (time.Duration, float64) {
	var total time.Duration
	for _, iv := range h.Intervals {
		end := iv.End
		if end.IsZero() {
			end = now
		}
		if d := end.Sub(iv.Start); d > 0 {
			total += d
		}
	}
	return total, h.HourlyPrice * float64(h.NumNodes) * total.Hours()
}
