package spec

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
)

// MaxNumNodes bounds num_nodes (and --num-nodes). SkyPilot's schema sets no maximum; no infra holds more nodes in
// one cluster (Kubernetes documents 5,000 nodes per cluster as its limit), so a larger count is a typo, refused
// where it is written rather than clamped. Each provider checks its own, smaller limit before provisioning.
const MaxNumNodes = 10000

func tooManyNodes(n int64) error {
	return &hintError{msg: fmt.Sprintf("%d nodes is over the maximum of %d", n, MaxNumNodes),
		hint: "a cluster holds at most " + strconv.Itoa(MaxNumNodes) + " nodes; check num_nodes for a typo"}
}

// Task is one SkyPilot task: what to run (setup, run), where (Resources, NumNodes) and with what (Envs,
// Secrets, Workdir, FileMounts). A Pipeline chains several.
type Task struct {
	Name       string       `json:"name,omitempty"`
	Workdir    *Workdir     `json:"workdir,omitempty"`
	NumNodes   int          `json:"num_nodes"`
	Resources  *Resources   `json:"resources"` // never nil; empty means "any machine"
	Envs       Envs         `json:"envs,omitempty"`
	Secrets    Secrets      `json:"secrets,omitempty"`
	FileMounts []FileMount  `json:"file_mounts,omitempty"`
	Setup      string       `json:"setup,omitempty"` // bash, passed as written: no env substitution
	Run        string       `json:"run,omitempty"`   // bash, passed as written: no env substitution
	Service    *ServiceSpec `json:"service,omitempty"`
	// Pool is the task's `pool:` section: the task is a pool's workers (`stix jobs pool apply`).
	Pool    *PoolSpec `json:"pool,omitempty"`
	Inputs  *DataRef  `json:"inputs,omitempty"`
	Outputs *DataRef  `json:"outputs,omitempty"`

	// Config is the task's `config:` block as plain values: overrides of the stix/SkyPilot config for this task.
	// ConfigNode is the same block with its positions, which package config checks and applies.
	Config map[string]any `json:"config,omitempty"`
	// Volumes is the task's `volumes:` block (mount path -> volume), kept as written.
	Volumes map[string]any `json:"volumes,omitempty"`
	// EventCallback, FileMountsMapping and Experimental are accepted for compatibility and kept as written.
	EventCallback     string         `json:"event_callback,omitempty"`
	FileMountsMapping map[string]any `json:"file_mounts_mapping,omitempty"`
	Experimental      map[string]any `json:"experimental,omitempty"`

	// config is the `config:` block as read, with positions; nil when the task has none.
	config *value
	// requiredEnvs and requiredSecrets are the names declared without a value, in file order.
	requiredEnvs    []string
	requiredSecrets []string
}

// Envs are a task's environment variables.
type Envs map[string]string

// Secrets are like Envs but their values never appear in output: String, GoString and JSON show them redacted.
type Secrets map[string]string

// Redacted is what a secret's value is shown as.
const Redacted = "<redacted>"

func (s Secrets) redacted() map[string]string {
	out := make(map[string]string, len(s))
	for k := range s {
		out[k] = Redacted
	}
	return out
}

// String lists the secret names with redacted values.
func (s Secrets) String() string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := "map["
	for i, k := range keys {
		if i > 0 {
			out += " "
		}
		out += k + ":" + Redacted
	}
	return out + "]"
}

// GoString keeps %#v from printing secret values.
func (s Secrets) GoString() string { return "spec.Secrets" + s.String() }

// MarshalJSON encodes the secret names with redacted values.
func (s Secrets) MarshalJSON() ([]byte, error) { return json.Marshal(s.redacted()) }

// Workdir is the directory synced to every node before setup: a local path, or a git repository.
type Workdir struct {
	Path string `json:"path,omitempty"` // local directory, as written (~ and relative paths are resolved at launch)
	URL  string `json:"url,omitempty"`  // git repository
	Ref  string `json:"ref,omitempty"`  // git branch, tag or commit
}

// FileMount is one file_mounts entry: Dest on the nodes gets Source (a local path or a bucket URI), or a storage
// object.
type FileMount struct {
	Dest    string       `json:"dest"`
	Source  string       `json:"source,omitempty"`
	Storage *StorageSpec `json:"storage,omitempty"`
}

// StorageSpec is a bucket mounted or copied onto the nodes.
type StorageSpec struct {
	Name         string         `json:"name,omitempty"`
	Sources      []string       `json:"source,omitempty"` // local paths or bucket URIs; several only with COPY
	Store        string         `json:"store,omitempty"`  // lower case: s3, gcs, azure, r2, ibm, oci, nebius, ...
	Mode         string         `json:"mode"`             // MOUNT (default), COPY or MOUNT_CACHED
	Persistent   bool           `json:"persistent"`       // keep the bucket when the task ends (default true)
	MountOptions string         `json:"mount_options,omitempty"`
	Config       map[string]any `json:"config,omitempty"`
	ForceDelete  bool           `json:"_force_delete,omitempty"`
	// MadeByClient says an API server's client created the bucket when it uploaded the entry's local sources
	// (api.SourcesInBucket.Created): stix records the bucket as its own. Not a YAML key.
	MadeByClient bool `json:"-"`
	// ClientSources are the local sources as an API server's client has them (its paths), recorded for `stix
	// storage ls`; Sources then says where the server reads them. Not a YAML key.
	ClientSources []string `json:"-"`
}

// DataRef is an experimental inputs/outputs entry: a path and its estimated size in GB.
type DataRef struct {
	Path   string  `json:"path"`
	SizeGB float64 `json:"size_gb"`
}

// String renders the task as JSON, with secrets redacted.
func (t *Task) String() string {
	b, err := json.Marshal(t)
	if err != nil {
		return "<task: " + err.Error() + ">"
	}
	return string(b)
}

// ConfigNode is the task's `config:` section with its positions (an absent Node when it has none): the task
// layer of package config, read once with the task.
func (t *Task) ConfigNode() Node { return Node{t.config} }

// MissingEnvs lists, in file order, the envs declared without a value that are still unset: each must be given
// with --env at launch.
func (t *Task) MissingEnvs() []string { return missing(t.requiredEnvs, t.Envs) }

// MissingSecrets lists the secrets declared without a value that are still unset (--secret at launch).
func (t *Task) MissingSecrets() []string { return missing(t.requiredSecrets, t.Secrets) }

func missing(required []string, set map[string]string) []string {
	var out []string
	for _, name := range required {
		if _, ok := set[name]; !ok && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// FromCommand builds the task of an inline command (`stix launch 'echo hi'`): one node, no requirements.
func FromCommand(command string) *Task {
	return &Task{NumNodes: 1, Resources: &Resources{}, Run: command}
}

// Pipeline is the content of a task file: one task, or several run in order (a multi-document file).
type Pipeline struct {
	Name    string
	Tasks   []*Task
	Notices []Notice
}
