package api

import (
	"slices"
	"strings"
)

// TaskSpec is a task as it travels to the core: the task YAML's text (or an inline command) with the command
// line's overrides, envs, secrets and config. The core reads and checks it, so its errors keep file:line:col
// and name FileName. Secrets travel as values and are never shown by the core.
type TaskSpec struct {
	// YAML is the task file's text; empty for an inline command or for no task at all.
	YAML string `json:"yaml,omitempty"`
	// FileName is the task file as the user named it: it is used in error positions and in messages.
	FileName string `json:"file_name,omitempty"`
	// Command is an inline command (`stix launch 'python train.py'`); used when YAML is empty.
	Command string `json:"command,omitempty"`
	// Overrides are the task flags given on the command line (--gpus, --infra, --num-nodes, ...).
	Overrides TaskOverrides `json:"overrides,omitzero"`
	// Env and Secrets are --env-file, --env and --secret, already resolved on the client; they win over the
	// task's envs and secrets.
	Env     map[string]string `json:"env,omitempty"`
	Secrets map[string]string `json:"secrets,omitempty"`
	// Pipeline accepts a file of several tasks (Validate only); otherwise one task is required.
	Pipeline bool `json:"pipeline,omitempty"`
	// Config, when set, applies stix's config layers to the request; nil applies none.
	Config *ConfigLayers `json:"config,omitempty"`
	// Git, when set, are the client's git credentials for a git workdir.
	Git *GitCredentials `json:"git,omitempty"`
	// Dir is the client's working directory: relative local paths of the task (workdir, file_mounts sources)
	// resolve against it. Empty: the core's own working directory (the embedded core is the client). The HTTP
	// client sets it.
	Dir string `json:"dir,omitempty"`
	// Uploads maps local directories of the task (workdir, file_mounts sources), as the task or --workdir
	// writes them, to the trees the client uploaded to the API server: the core reads those trees instead.
	Uploads map[string]string `json:"uploads,omitempty"`
	// InBucket names the storage entries (their file_mounts destinations, as the task writes them) whose local
	// sources the client uploaded to the entry's own bucket (config jobs.bucket, as SkyPilot does for a
	// controller's task): the core uses that bucket as it is and reads no local source for them.
	InBucket map[string]SourcesInBucket `json:"in_bucket,omitempty"`
}

// SourcesInBucket is one storage entry whose local sources the client uploaded to its bucket (TaskSpec.InBucket).
type SourcesInBucket struct {
	// Created says the client made the bucket for it: stix records the bucket as one it created, so that
	// `persistent: false` and `stix storage delete` delete it, when the bucket carries the mark of a bucket stix
	// made (the tag or label stix-managed=true, storage.MakeBucket); else the claim is not honoured.
	Created bool `json:"created,omitempty"`
}

// BucketUploads are the bucket URIs among the tasks' Uploads (what the client put in the intermediate bucket,
// config `jobs.bucket`), each once, sorted: what a controller deletes once nothing will read them again.
func BucketUploads(tasks ...TaskSpec) []string {
	var uris []string
	for _, t := range tasks {
		for _, u := range t.Uploads {
			if strings.Contains(u, "://") && !slices.Contains(uris, u) {
				uris = append(uris, u)
			}
		}
	}
	slices.Sort(uris)
	return uris
}

// ConfigLayers say where the config of one request comes from, besides the user's file and the task's
// `config:` section. A core on the client's machine (embedded) reads Args and Dir from its disk; a client of an
// API server sends the layers' content instead (Read), since the server cannot read the client's disk, and the
// server refuses paths.
type ConfigLayers struct {
	// Args are the --config values, in order: a config file or KEY=VALUE pairs.
	Args []string `json:"args,omitempty"`
	// Dir is the directory whose project file (.stix.yaml or .sky.yaml) applies; empty means none.
	Dir string `json:"dir,omitempty"`
	// Project is the project file's content, as the client read it; nil: none.
	Project *ConfigText `json:"project,omitempty"`
	// Layers are the --config values' content, in order, as the client read them; they apply after Project.
	Layers []ConfigText `json:"layers,omitempty"`
}

// ConfigText is one config layer as the client read it: a config file's text under the name the user gave it
// (kept for error positions), or one --config value of KEY=VALUE pairs (File empty).
type ConfigText struct {
	File string `json:"file,omitempty"`
	Text string `json:"text"`
}

// TaskOverrides are command-line values laid over a task, as SkyPilot applies them: resources overrides go to
// the top-level resources and to every any_of/ordered candidate, and "none" resets a field. A nil field is
// not given.
// GitCredentials are the client's GIT_TOKEN and the private key GIT_SSH_KEY_PATH names, sent with a task whose
// workdir is a git repository; the core makes them the task's secrets GIT_TOKEN and GIT_SSH_KEY, as SkyPilot does.
type GitCredentials struct {
	Token  string `json:"token,omitempty"`
	SSHKey string `json:"ssh_key,omitempty"`
}

type TaskOverrides struct {
	Name         *string  `json:"name,omitempty"`
	Workdir      *string  `json:"workdir,omitempty"`
	GitURL       *string  `json:"git_url,omitempty"` // --git-url: the workdir is this git repository
	GitRef       *string  `json:"git_ref,omitempty"` // --git-ref: the branch, tag or commit of the git workdir
	NumNodes     *int     `json:"num_nodes,omitempty"`
	Infra        *string  `json:"infra,omitempty"`         // --infra, e.g. "aws/us-east-1", "k8s", "local"
	Accelerators *string  `json:"accelerators,omitempty"`  // --gpus, e.g. "A100:8"
	Cpus         *string  `json:"cpus,omitempty"`          // --cpus, e.g. "4", "4+"
	Memory       *string  `json:"memory,omitempty"`        // --memory, e.g. "16", "16+", "8x"
	InstanceType *string  `json:"instance_type,omitempty"` // -t/--instance-type
	UseSpot      *bool    `json:"use_spot,omitempty"`
	ImageID      *string  `json:"image_id,omitempty"`
	DiskSize     *string  `json:"disk_size,omitempty"` // an integer in GB or a size with units
	DiskTier     *string  `json:"disk_tier,omitempty"`
	NetworkTier  *string  `json:"network_tier,omitempty"`
	Ports        []string `json:"ports,omitempty"` // --ports, each an int or a range; replaces the YAML's ports
}

// IsZero reports whether no override is set.
func (o TaskOverrides) IsZero() bool {
	return o.Name == nil && o.Workdir == nil && o.GitURL == nil && o.GitRef == nil && o.NumNodes == nil && o.Infra == nil && o.Accelerators == nil &&
		o.Cpus == nil && o.Memory == nil && o.InstanceType == nil && o.UseSpot == nil && o.ImageID == nil &&
		o.DiskSize == nil && o.DiskTier == nil && o.NetworkTier == nil && o.Ports == nil
}

// TaskCheck is what the core found reading a task.
type TaskCheck struct {
	// Tasks is the number of tasks in the file (a pipeline has several).
	Tasks int `json:"tasks"`
	// Errors make the task unusable; each names its position.
	Errors []TaskError `json:"errors,omitempty"`
	// Notices are notes and deprecations that do not make the task invalid.
	Notices []TaskNotice `json:"notices,omitempty"`
	// ConfigErrors are problems of the config layers (TaskSpec.Config), found once the task was read.
	ConfigErrors []TaskError `json:"config_errors,omitempty"`
	// Warnings name config keys that stix reads but does not act on yet.
	Warnings []string `json:"warnings,omitempty"`
}

// Err returns the task's errors as one error, or nil when there are none.
func (c *TaskCheck) Err() error { return taskErrors(c.Errors) }

// ConfigErr returns the config's errors as one error, or nil when there are none.
func (c *TaskCheck) ConfigErr() error { return taskErrors(c.ConfigErrors) }

func taskErrors(l []TaskError) error {
	if len(l) == 0 {
		return nil
	}
	return TaskErrors(l)
}

// TaskError is one problem of a task or config file, at its position when there is one.
type TaskError struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Col     int    `json:"col,omitempty"`
	Path    string `json:"path,omitempty"` // key path such as "resources.cpus", or the flag ("--gpus")
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	// Text is the whole problem as stix prints it: "file:line:col: path: message (hint)".
	Text string `json:"text"`
}

func (e TaskError) Error() string { return e.Text }

// TaskErrors are every problem found in a task, sorted by position; the error prints one per line.
type TaskErrors []TaskError

func (l TaskErrors) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Text
	}
	return strings.Join(lines, "\n")
}

// TaskNotice is something worth telling about a task that does not make it invalid.
type TaskNotice struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Col     int    `json:"col,omitempty"`
	Path    string `json:"path,omitempty"`
	Kind    string `json:"kind"` // deprecated, missing-env, missing-secret, incomplete
	Message string `json:"message"`
	// Text is the notice as stix prints it: "file:line:col: kind: path: message".
	Text string `json:"text"`
}

func (n TaskNotice) String() string { return n.Text }
