package spec

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func mustLoad(t *testing.T, src string, opts LoadOptions) *Pipeline {
	t.Helper()
	p, err := Load("task.yaml", []byte(src), opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return p
}

func mustTask(t *testing.T, src string) *Task {
	t.Helper()
	p := mustLoad(t, src, LoadOptions{})
	if len(p.Tasks) != 1 {
		t.Fatalf("got %d tasks, want 1", len(p.Tasks))
	}
	return p.Tasks[0]
}

func ptr[T any](v T) *T { return &v }

// words joins values with spaces, for compact expectations.
func words(vals ...any) string { return strings.TrimSuffix(fmt.Sprintln(vals...), "\n") }

// TestResourceForms loads every accepted form of each resources key and checks the model it becomes.
func TestResourceForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string // the resources mapping's body, indented by two spaces
		want func(r *Resources) any
		exp  any
	}{
		{"infra cloud", "infra: aws", func(r *Resources) any { return r.Infra }, Infra{Cloud: "aws"}},
		{"infra region", "infra: AWS/us-east-1", func(r *Resources) any { return r.Infra }, Infra{Cloud: "aws", Region: "us-east-1"}},
		{"infra zone", "infra: aws/us-east-1/us-east-1a", func(r *Resources) any { return r.Infra }, Infra{Cloud: "aws", Region: "us-east-1", Zone: "us-east-1a"}},
		{"infra any cloud", "infra: '*/us-east-1'", func(r *Resources) any { return r.Infra }, Infra{Region: "us-east-1"}},
		{"infra k8s", "infra: k8s", func(r *Resources) any { return r.Infra }, Infra{Cloud: "kubernetes"}},
		{"infra k8s context with slashes", "infra: k8s/arn:aws:eks:us-east-1:1:cluster/my", func(r *Resources) any { return r.Infra }, Infra{Cloud: "kubernetes", Context: "arn:aws:eks:us-east-1:1:cluster/my"}},
		{"infra kubernetes", "infra: kubernetes/ctx", func(r *Resources) any { return r.Infra }, Infra{Cloud: "kubernetes", Context: "ctx"}},
		{"infra ssh pool", "infra: ssh/my-pool", func(r *Resources) any { return r.Infra }, Infra{Cloud: "ssh", Context: "my-pool"}},
		{"infra slurm", "infra: slurm/hpc", func(r *Resources) any { return r.Infra }, Infra{Cloud: "slurm", Context: "hpc"}},
		{"infra docker", "infra: docker", func(r *Resources) any { return r.Infra }, Infra{Cloud: "docker"}},
		{"infra local", "infra: local", func(r *Resources) any { return r.Infra }, Infra{Cloud: "local"}},
		{"deprecated cloud region zone", "cloud: GCP\n  region: us-central1\n  zone: us-central1-a", func(r *Resources) any { return r.Infra }, Infra{Cloud: "gcp", Region: "us-central1", Zone: "us-central1-a"}},
		{"deprecated kubernetes region is the context", "cloud: kubernetes\n  region: ctx", func(r *Resources) any { return r.Infra }, Infra{Cloud: "kubernetes", Context: "ctx"}},
		{"accelerator name", "accelerators: V100", func(r *Resources) any { return r.Accelerators.String() }, "V100:1"},
		{"accelerator count", "accelerators: A100:8", func(r *Resources) any { return r.Accelerators.String() }, "A100:8"},
		{"accelerator fraction", "accelerators: V100:0.5", func(r *Resources) any { return r.Accelerators.String() }, "V100:0.5"},
		{"accelerator lower case kept", "accelerators: a10g", func(r *Resources) any { return r.Accelerators.String() }, "a10g:1"},
		{"accelerator tpu", "accelerators: tpu-v2-8", func(r *Resources) any { return r.Accelerators.String() }, "tpu-v2-8:1"},
		{"accelerator mapping", "accelerators: {A100-80GB: 8}", func(r *Resources) any { return r.Accelerators.String() }, "A100-80GB:8"},
		{"accelerator set", "accelerators: {A100:1, T4:1}", func(r *Resources) any { return *r.Accelerators },
			Accelerators{Kind: AnyOf, Options: []Accelerator{{Name: "A100", Count: 1}, {Name: "T4", Count: 1}}}},
		{"accelerator list", "accelerators: [A100:1, 'T4:2']", func(r *Resources) any { return *r.Accelerators },
			Accelerators{Kind: Ordered, Options: []Accelerator{{Name: "A100", Count: 1}, {Name: "T4", Count: 2}}}},
		{"accelerator duplicates collapse", "accelerators: [A100, A100:1]", func(r *Resources) any { return r.Accelerators.String() }, "A100:1"},
		{"accelerator by memory", "accelerators: 80GB+:8", func(r *Resources) any { return r.Accelerators.String() }, "80GB+:8"},
		{"accelerator by maker and memory", "accelerators: nvidia:24GB:2", func(r *Resources) any { return r.Accelerators.String() }, "nvidia:24GB:2"},
		{"gpus alias", "gpus: H100:8", func(r *Resources) any { return r.Accelerators.String() }, "H100:8"},
		{"accelerator args", "accelerator_args: {runtime_version: tpu-vm-base, tpu_vm: true}", func(r *Resources) any { return r.AcceleratorArgs },
			map[string]any{"runtime_version": "tpu-vm-base", "tpu_vm": true}},
		{"cpus int", "cpus: 4", func(r *Resources) any { return *r.CPUs }, Quantity{Value: 4}},
		{"cpus float", "cpus: 4.5", func(r *Resources) any { return *r.CPUs }, Quantity{Value: 4.5}},
		{"cpus or more", "cpus: 4+", func(r *Resources) any { return *r.CPUs }, Quantity{Value: 4, OrMore: true}},
		{"memory plain", "memory: 32", func(r *Resources) any { return *r.Memory }, Quantity{Value: 32}},
		{"memory or more", "memory: 32+", func(r *Resources) any { return *r.Memory }, Quantity{Value: 32, OrMore: true}},
		{"memory per cpu", "memory: 8x", func(r *Resources) any { return *r.Memory }, Quantity{Value: 8, PerCPU: true}},
		{"memory GB", "memory: 64GB", func(r *Resources) any { return *r.Memory }, Quantity{Value: 64}},
		{"memory MB", "memory: 1024MB", func(r *Resources) any { return *r.Memory }, Quantity{Value: 1}},
		{"memory TB", "memory: 1TB+", func(r *Resources) any { return *r.Memory }, Quantity{Value: 1024, OrMore: true}},
		{"memory GiB", "memory: 16GiB", func(r *Resources) any { return *r.Memory }, Quantity{Value: 16}},
		{"instance type", "instance_type: VM.Standard.E4.Flex$_2_16", func(r *Resources) any { return r.InstanceType }, "VM.Standard.E4.Flex$_2_16"},
		{"use_spot", "use_spot: true", func(r *Resources) any { return r.Spot() }, true},
		{"disk_size int", "disk_size: 512", func(r *Resources) any { return r.DiskSize() }, 512},
		{"disk_size units", "disk_size: 1TB", func(r *Resources) any { return r.DiskSize() }, 1024},
		{"disk_size default", "cpus: 1", func(r *Resources) any { return r.DiskSize() }, DefaultDiskSizeGB},
		{"disk_tier", "disk_tier: Best", func(r *Resources) any { return r.DiskTier }, "best"},
		{"network_tier", "network_tier: best", func(r *Resources) any { return r.NetworkTier }, "best"},
		{"ports int", "ports: 8080", func(r *Resources) any { return r.Ports.String() }, "8080"},
		{"ports range", "ports: 8000-8010", func(r *Resources) any { return r.Ports.String() }, "8000-8010"},
		{"ports list merged", "ports: [8081, 8080, '9000-9002', 9001]", func(r *Resources) any { return r.Ports.String() }, "8080-8081,9000-9002"},
		{"ports null", "ports: null", func(r *Resources) any { return r.Ports == nil }, true},
		{"image id", "image_id: ami-123", func(r *Resources) any { return *r.ImageID }, ImageID{ID: "ami-123"}},
		{"image docker", "image_id: docker:ubuntu:22.04", func(r *Resources) any { img, ok := r.ImageID.Docker(); return words(img, ok) }, "ubuntu:22.04 true"},
		{"image per region", "image_id: {us-east-1: ami-1, us-west-2: ami-2}", func(r *Resources) any { return r.ImageID.ByRegion },
			map[string]string{"us-east-1": "ami-1", "us-west-2": "ami-2"}},
		{"image null", "image_id: null", func(r *Resources) any { return r.ImageID == nil }, true},
		{"labels", "labels: {team: ml}", func(r *Resources) any { return r.Labels }, map[string]string{"team": "ml"}},
		{"job recovery string", "job_recovery: failover", func(r *Resources) any { return *r.JobRecovery }, JobRecovery{Strategy: "FAILOVER"}},
		{"job recovery mapping", "job_recovery: {strategy: EAGER_NEXT_REGION, max_restarts_on_errors: 3, recover_on_exit_codes: [33, 34]}",
			func(r *Resources) any { return *r.JobRecovery }, JobRecovery{Strategy: "EAGER_NEXT_REGION", MaxRestartsOnErrors: 3, RecoverOnExitCodes: []int{33, 34}}},
		{"job recovery single exit code", "job_recovery: {max_restarts_on_errors: 1, recover_on_exit_codes: 7}",
			func(r *Resources) any { return *r.JobRecovery }, JobRecovery{MaxRestartsOnErrors: 1, RecoverOnExitCodes: []int{7}}},
		{"job recovery none", "job_recovery: none", func(r *Resources) any { return r.JobRecovery == nil }, true},
		{"spot_recovery alias", "spot_recovery: FAILOVER", func(r *Resources) any { return r.JobRecovery.Strategy }, "FAILOVER"},
		{"autostop false", "autostop: false", func(r *Resources) any { return *r.Autostop }, AutostopConfig{}},
		{"autostop true", "autostop: true", func(r *Resources) any { return *r.Autostop }, AutostopConfig{Enabled: true}},
		{"autostop minutes", "autostop: 10", func(r *Resources) any { return *r.Autostop }, AutostopConfig{Enabled: true, IdleMinutes: 10}},
		{"autostop hours", "autostop: 2h", func(r *Resources) any { return *r.Autostop }, AutostopConfig{Enabled: true, IdleMinutes: 120}},
		{"autostop days", "autostop: 1d", func(r *Resources) any { return *r.Autostop }, AutostopConfig{Enabled: true, IdleMinutes: 1440}},
		{"autostop mapping", "autostop: {idle_minutes: 5, down: true, wait_for: jobs}", func(r *Resources) any { return *r.Autostop },
			AutostopConfig{Enabled: true, IdleMinutes: 5, Down: true, WaitFor: "jobs"}},
		{"priority", "priority: -10", func(r *Resources) any { return *r.Priority }, -10},
		{"cluster config overrides", "_cluster_config_overrides: {kubernetes: {pod_config: {}}}", func(r *Resources) any { return len(r.ClusterConfigOverrides) }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			task := mustTask(t, "resources:\n  "+tt.yaml+"\n")
			if got := tt.want(task.Resources); !reflect.DeepEqual(got, tt.exp) {
				t.Errorf("got %#v, want %#v", got, tt.exp)
			}
		})
	}
}

func TestCandidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		yaml    string
		want    []string // infra + accelerators of each candidate
		ordered bool
	}{
		{"single", "resources:\n  accelerators: A100", []string{" A100:1"}, false},
		{"no resources", "run: x", []string{" "}, false},
		{"accelerator set", "resources:\n  accelerators: {A100:1, T4:1}", []string{" A100:1", " T4:1"}, false},
		{"accelerator list", "resources:\n  accelerators: [A100:1, T4:1]", []string{" A100:1", " T4:1"}, true},
		{"any_of merges over the top level", "resources:\n  accelerators: A100\n  any_of:\n    - infra: aws\n    - infra: gcp\n      accelerators: T4",
			[]string{"aws A100:1", "gcp T4:1"}, false},
		{"ordered", "resources:\n  ordered:\n    - accelerators: V100\n    - accelerators: T4\n  ports: 8081", []string{" V100:1", " T4:1"}, true},
		{"legacy candidates", "resources:\n  candidates:\n  - {accelerators: T4:4}\n  - {accelerators: V100:4}", []string{" T4:4", " V100:4"}, false},
		{"candidate unsets a top-level key", "resources:\n  image_id: docker:x\n  any_of:\n    - infra: lambda\n      image_id: null\n    - infra: aws",
			[]string{"lambda ", "aws "}, false},
		{"any_of with an accelerator set", "resources:\n  accelerators: {A100:1, T4:1}\n  any_of:\n    - infra: aws\n    - infra: gcp",
			[]string{"aws A100:1", "aws T4:1", "gcp A100:1", "gcp T4:1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			task := mustTask(t, tt.yaml+"\n")
			cands, ordered := task.Resources.Candidates()
			var got []string
			for _, c := range cands {
				got = append(got, c.Infra.String()+" "+c.Accelerators.String())
				if c.AnyOf != nil || c.Ordered != nil {
					t.Errorf("candidate has nested candidates")
				}
			}
			if !reflect.DeepEqual(got, tt.want) || ordered != tt.ordered {
				t.Errorf("got %q ordered=%v, want %q ordered=%v", got, ordered, tt.want, tt.ordered)
			}
		})
	}
	// The image_id of the lambda candidate above is unset, the others keep the top-level one.
	task := mustTask(t, "resources:\n  image_id: docker:x\n  labels: {a: '1', b: '2'}\n  any_of:\n    - infra: lambda\n      image_id: null\n      labels: {b: '3'}\n    - infra: aws\n")
	if task.Resources.AnyOf[0].ImageID != nil || task.Resources.AnyOf[1].ImageID == nil {
		t.Errorf("image_id override: %v / %v", task.Resources.AnyOf[0].ImageID, task.Resources.AnyOf[1].ImageID)
	}
	if got := task.Resources.AnyOf[0].Labels; !reflect.DeepEqual(got, map[string]string{"a": "1", "b": "3"}) {
		t.Errorf("labels merge: %v", got)
	}
}

func TestTaskFields(t *testing.T) {
	t.Parallel()
	src := `name: train-1
workdir: ~/src
num_nodes: 2
envs:
  MODEL: llama
  SIZE: 7
  RATIO: 1.10
  DEBUG: true
  VERSION: 08
  MODE: 0755
  EMPTY: ""
  HF_TOKEN:
secrets:
  API_KEY: s3cr3t
file_mounts:
  /data/${MODEL}: s3://bucket/${MODEL}-$SIZE
  ~/.cfg: ./cfg
  /ckpt:
    name: ckpt-${MODEL}
    store: S3
    mode: copy
    persistent: false
  /multi:
    source: [./a, ./b]
    mode: COPY
setup: |
  pip install -r req.txt
run: |
  echo $MODEL ${SIZE}
inputs:
  gs://data: 2
outputs:
  out-dir: 0.5
config:
  docker:
    run_options: [--shm-size=1g]
event_callback: echo done
experimental:
  config_overrides: {}
file_mounts_mapping: {}
volumes:
  /vol: my-volume
`
	task := mustTask(t, src)
	wantEnvs := Envs{"MODEL": "llama", "SIZE": "7", "RATIO": "1.1", "DEBUG": "True", "VERSION": "08", "MODE": "493", "EMPTY": ""}
	if !reflect.DeepEqual(task.Envs, wantEnvs) {
		t.Errorf("envs = %v, want %v", task.Envs, wantEnvs)
	}
	if got := task.MissingEnvs(); !reflect.DeepEqual(got, []string{"HF_TOKEN"}) {
		t.Errorf("MissingEnvs = %v", got)
	}
	if task.Name != "train-1" || task.NumNodes != 2 || task.Workdir.Path != "~/src" {
		t.Errorf("name/num_nodes/workdir = %q %d %+v", task.Name, task.NumNodes, task.Workdir)
	}
	if task.Run != "echo $MODEL ${SIZE}\n" || task.Setup != "pip install -r req.txt\n" {
		t.Errorf("run/setup changed: %q %q", task.Run, task.Setup)
	}
	wantMounts := []FileMount{
		{Dest: "/data/llama", Source: "s3://bucket/llama-7"},
		{Dest: "~/.cfg", Source: "./cfg"},
		{Dest: "/ckpt", Storage: &StorageSpec{Name: "ckpt-llama", Store: "s3", Mode: "COPY", Persistent: false}},
		{Dest: "/multi", Storage: &StorageSpec{Sources: []string{"./a", "./b"}, Mode: "COPY", Persistent: true}},
	}
	if !reflect.DeepEqual(task.FileMounts, wantMounts) {
		got, _ := json.Marshal(task.FileMounts)
		t.Errorf("file_mounts = %s", got)
	}
	if *task.Inputs != (DataRef{Path: "gs://data", SizeGB: 2}) || *task.Outputs != (DataRef{Path: "out-dir", SizeGB: 0.5}) {
		t.Errorf("inputs/outputs = %+v %+v", task.Inputs, task.Outputs)
	}
	if task.Config["docker"] == nil || task.EventCallback != "echo done" || task.Volumes["/vol"] != "my-volume" || task.Experimental == nil {
		t.Errorf("config/event_callback/volumes/experimental = %v %q %v %v", task.Config, task.EventCallback, task.Volumes, task.Experimental)
	}
	if f := task.ConfigNode().Fields(); len(f) != 1 || f[0].Key != "docker" || f[0].Line != 35 || f[0].Col != 3 {
		t.Errorf("ConfigNode fields = %+v, want docker at 35:3", f)
	}
	if task.Secrets["API_KEY"] != "s3cr3t" {
		t.Errorf("secret value not kept for the agent")
	}
}

func TestWorkdirGit(t *testing.T) {
	t.Parallel()
	task := mustTask(t, "envs: {BRANCH: dev}\nworkdir:\n  url: https://github.com/org/repo\n  ref: $BRANCH\n")
	if *task.Workdir != (Workdir{URL: "https://github.com/org/repo", Ref: "dev"}) {
		t.Errorf("workdir = %+v", task.Workdir)
	}
}

// TestSubstitution follows SkyPilot: envs and secrets fill ${VAR} and $VAR in file_mounts, workdir and service;
// unknown names stay as written; run and setup are never touched.
func TestSubstitution(t *testing.T) {
	t.Parallel()
	src := `envs:
  A: one
  B:
secrets:
  A: secret-wins
workdir: ./$A/${B}
file_mounts:
  /x/$A: ./${UNKNOWN}/$A
service:
  readiness_probe:
    path: /health
    post_data: {model: $A}
run: echo $A
`
	p := mustLoad(t, src, LoadOptions{Env: map[string]string{"B": "two"}})
	task := p.Tasks[0]
	if task.Workdir.Path != "./secret-wins/two" {
		t.Errorf("workdir = %q", task.Workdir.Path)
	}
	if task.FileMounts[0].Dest != "/x/secret-wins" || task.FileMounts[0].Source != "./${UNKNOWN}/secret-wins" {
		t.Errorf("file_mounts = %+v", task.FileMounts[0])
	}
	if got := task.Service.ReadinessProbe.PostData.(map[string]any)["model"]; got != "secret-wins" {
		t.Errorf("post_data.model = %v", got)
	}
	if task.Run != "echo $A" {
		t.Errorf("run was substituted: %q", task.Run)
	}
	if len(p.Notices) != 0 || task.MissingEnvs() != nil {
		t.Errorf("B was given: notices %v, missing %v", p.Notices, task.MissingEnvs())
	}
}

func TestEnvOverridesAndNotices(t *testing.T) {
	t.Parallel()
	src := "envs:\n  TOKEN:\n  MODEL: a\nsecrets:\n  KEY:\nrun: x\n"
	p := mustLoad(t, src, LoadOptions{Env: map[string]string{"MODEL": "b", "NEW": "c"}})
	task := p.Tasks[0]
	if task.Envs["MODEL"] != "b" || task.Envs["NEW"] != "c" {
		t.Errorf("--env must win and add: %v", task.Envs)
	}
	var got []string
	for _, n := range p.Notices {
		got = append(got, fmt.Sprintf("%d:%d %s %s: %s", n.Pos.Line, n.Pos.Col, n.Kind, n.Path, n.Message))
	}
	want := []string{
		"2:3 missing-env envs.TOKEN: needs --env TOKEN at launch",
		"5:3 missing-secret secrets.KEY: needs --secret KEY at launch",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("notices:\n got  %q\n want %q", got, want)
	}
	// A value that refers to a still-unset env is checked at launch, not now: $STORE is not an unknown store
	// only when STORE is declared without a value.
	mustLoad(t, "envs:\n  STORE:\nfile_mounts:\n  /d:\n    name: b\n    store: $STORE\n", LoadOptions{})
	list := mustFail(t, "file_mounts:\n  /d:\n    name: b\n    store: $STORE\n", LoadOptions{})
	if len(list) != 1 || !strings.Contains(list[0].Message, `unknown store "$STORE"`) {
		t.Errorf("undeclared $STORE: %v", list)
	}
	// Given at launch, it is checked then.
	list = mustFail(t, "envs:\n  STORE:\nfile_mounts:\n  /d:\n    name: b\n    store: $STORE\n", LoadOptions{Env: map[string]string{"STORE": "s5"}})
	if len(list) != 1 || !strings.Contains(list[0].Message, `unknown store "s5"`) {
		t.Errorf("--env STORE=s5: %v", list)
	}
}

func TestDeprecationNotices(t *testing.T) {
	t.Parallel()
	p := mustLoad(t, "resources:\n  cloud: aws\n  region: us-east-1\n  spot_recovery: failover\n  candidates:\n  - {cloud: gcp}\n", LoadOptions{})
	var got []string
	for _, n := range p.Notices {
		if n.Kind != NoticeDeprecated {
			t.Errorf("kind %s", n.Kind)
		}
		got = append(got, fmt.Sprintf("%d:%d %s: %s", n.Pos.Line, n.Pos.Col, n.Path, n.Message))
	}
	want := []string{
		"2:3 resources.cloud: cloud, region and zone are deprecated; use infra: aws/us-east-1",
		"4:3 resources.spot_recovery: spot_recovery is deprecated; use job_recovery",
		"5:3 resources.candidates: candidates is deprecated; use any_of",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("notices:\n got  %q\n want %q", got, want)
	}
}

func TestStorageNamePlaceholder(t *testing.T) {
	t.Parallel()
	p := mustLoad(t, "file_mounts:\n  /out:\n    name: # fill in\n    mode: MOUNT\n", LoadOptions{})
	if len(p.Notices) != 1 || p.Notices[0].Kind != NoticeIncomplete || p.Notices[0].Pos.Line != 3 {
		t.Errorf("notices = %v", p.Notices)
	}
}

func TestService(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want func(s *ServiceSpec) any
		exp  any
	}{
		{"probe path string", "readiness_probe: /health\n  replicas: 2", func(s *ServiceSpec) any {
			return words(s.ReadinessProbe.Path, s.ReadinessProbe.InitialDelaySeconds, s.ReadinessProbe.TimeoutSeconds, s.MinReplicas, s.Autoscaling())
		}, "/health 1200 15 2 false"},
		{"probe mapping", "readiness_probe:\n    path: /v1/models\n    initial_delay_seconds: 30\n    timeout_seconds: 5\n    headers: {Authorization: Bearer x}\n    post_data: '{\"a\": 1}'",
			func(s *ServiceSpec) any {
				return words(s.ReadinessProbe.Path, s.ReadinessProbe.InitialDelaySeconds, s.ReadinessProbe.TimeoutSeconds, s.ReadinessProbe.Headers, s.ReadinessProbe.PostData)
			}, "/v1/models 30 5 map[Authorization:Bearer x] map[a:1]"},
		{"defaults", "ports: 8080", func(s *ServiceSpec) any { return words(s.ReadinessProbe.Path, s.MinReplicas, s.Ports) }, "/ 1 8080"},
		{"autoscaling", "readiness_probe: /\n  replica_policy:\n    min_replicas: 0\n    max_replicas: 3\n    target_qps_per_replica: 2.5\n    upscale_delay_seconds: 60\n    downscale_delay_seconds: 300\n    num_overprovision: 1",
			func(s *ServiceSpec) any {
				return words(s.MinReplicas, *s.MaxReplicas, *s.TargetQPSPerReplica, *s.UpscaleDelaySeconds, *s.DownscaleDelaySeconds, *s.NumOverprovision, s.Autoscaling())
			}, "0 3 2.5 60 300 1 true"},
		{"spot policy", "readiness_probe: /\n  replica_policy:\n    min_replicas: 1\n    max_replicas: 3\n    target_qps_per_replica: 1\n    base_ondemand_fallback_replicas: 1\n    dynamic_ondemand_fallback: true\n    spot_placer: DYNAMIC_FALLBACK",
			func(s *ServiceSpec) any {
				return words(*s.BaseOndemandFallbackReplicas, *s.DynamicOndemandFallback, s.SpotPlacer)
			}, "1 true dynamic_fallback"},
		{"qps per accelerator", "readiness_probe: /\n  replica_policy:\n    min_replicas: 1\n    max_replicas: 3\n    target_qps_per_replica: {H100: 5, 'A100:1': 2}\n  load_balancing_policy: instance_aware_least_load",
			func(s *ServiceSpec) any { return words(s.TargetQPSPerAccelerator) }, "map[A100:1:2 H100:5]"},
		{"policy and tls", "readiness_probe: /\n  load_balancing_policy: Round_Robin\n  tls: {keyfile: k.pem, certfile: c.pem}",
			func(s *ServiceSpec) any {
				return words(s.LoadBalancingPolicy, s.TLS.Keyfile, s.TLS.Certfile, s.TLS.KeyfilePos)
			}, "round_robin k.pem c.pem task.yaml:4:18"},
		{"defaults applied by accessors", "readiness_probe: /",
			func(s *ServiceSpec) any {
				return words(s.Policy(), s.MaxReplicasOrMin(), s.Upscale(), s.Downscale(), s.OndemandFallback())
			}, "least_load 1 300 1200 false"},
		{"fallback by base replicas", "replica_policy:\n    min_replicas: 2\n    max_replicas: 4\n    target_qps_per_replica: 1\n    base_ondemand_fallback_replicas: 1\n    upscale_delay_seconds: 20",
			func(s *ServiceSpec) any { return words(s.MaxReplicasOrMin(), s.Upscale(), s.OndemandFallback()) }, "4 20 true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			task := mustTask(t, "service:\n  "+tt.yaml+"\nrun: x\n")
			if got := tt.want(task.Service); got != tt.exp {
				t.Errorf("got %v, want %v", got, tt.exp)
			}
		})
	}
}

func TestPipeline(t *testing.T) {
	t.Parallel()
	p := mustLoad(t, "name: chain\n---\nname: a\nrun: echo a\n---\nname: b\nrun: echo b\n", LoadOptions{})
	if p.Name != "chain" || len(p.Tasks) != 2 || p.Tasks[0].Name != "a" || p.Tasks[1].Run != "echo b" {
		t.Errorf("pipeline = %q %d tasks", p.Name, len(p.Tasks))
	}
	// Without a name-only header every document is a task.
	p = mustLoad(t, "name: a\nrun: x\n---\nname: b\nrun: y\n", LoadOptions{})
	if p.Name != "" || len(p.Tasks) != 2 {
		t.Errorf("headerless pipeline = %q %d tasks", p.Name, len(p.Tasks))
	}
	// A single name-only document is a task with a name, and names the pipeline.
	p = mustLoad(t, "name: only\n", LoadOptions{})
	if p.Name != "only" || len(p.Tasks) != 1 {
		t.Errorf("single = %q %d tasks", p.Name, len(p.Tasks))
	}
	// Empty documents are skipped.
	p = mustLoad(t, "---\nrun: a\n---\n---\nrun: b\n", LoadOptions{})
	if len(p.Tasks) != 2 {
		t.Errorf("%d tasks", len(p.Tasks))
	}
}

func TestYAML11Scalars(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"yes": "True", "No": "False", "on": "True", "OFF": "False", "true": "True",
		"0755": "493", "0x1F": "31", "0b101": "5", "1_000": "1000", "1:30": "90", "-7": "-7", "+3": "3",
		"08": "08", "1e3": "1e3", "1.0e+3": "1000.0", "1.5": "1.5", "1.": "1.0", ".5": "0.5", "-.5": "-.5",
		"1.10": "1.1", "100000000000000000.0": "1e+17", "0.00001": "1e-05", ".inf": "inf", "-.Inf": "-inf",
		"12345678901234567890": "1.2345678901234567e+19", "2024-01-01": "2024-01-01", "'0755'": "0755",
	}
	for in, want := range tests {
		task := mustTask(t, "envs:\n  X: "+in+"\n")
		if got := task.Envs["X"]; got != want {
			t.Errorf("envs X: %s -> %q, want %q", in, got, want)
		}
	}
}

func TestAnchorsAndMerge(t *testing.T) {
	t.Parallel()
	src := "x-base: &base\n  cpus: 4+\n  memory: 16+\n"
	list := mustFail(t, src, LoadOptions{})
	if list[0].Path != "x-base" {
		t.Fatalf("unknown key: %v", list)
	}
	task := mustTask(t, "resources: &r\n  <<: {cpus: 2, memory: 8}\n  cpus: 4\nrun: &cmd echo hi\nsetup: *cmd\n")
	if task.Resources.CPUs.Value != 4 || task.Resources.Memory.Value != 8 || task.Setup != "echo hi" {
		t.Errorf("merge/alias: cpus %v memory %v setup %q", task.Resources.CPUs, task.Resources.Memory, task.Setup)
	}
	// An alias bomb is refused, not expanded.
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
	list = mustFail(t, bomb, LoadOptions{})
	if !strings.Contains(list.Error(), "too large after expanding aliases") {
		t.Errorf("alias bomb: %v", list)
	}
}

func TestFromCommand(t *testing.T) {
	t.Parallel()
	task := FromCommand("echo hi")
	if task.Run != "echo hi" || task.NumNodes != 1 || task.Resources == nil {
		t.Errorf("FromCommand = %+v", task)
	}
}

func TestSecretsRedacted(t *testing.T) {
	t.Parallel()
	task := mustTask(t, "secrets:\n  API_KEY: hunter2\nenvs:\n  A: visible\n")
	for name, out := range map[string]string{
		"String": task.String(), "%v": fmt.Sprintf("%v", task.Secrets), "%+v": fmt.Sprintf("%+v", *task), "%#v": fmt.Sprintf("%#v", task.Secrets),
	} {
		if strings.Contains(out, "hunter2") || !strings.Contains(out, "API_KEY") {
			t.Errorf("%s leaks or drops the secret: %s", name, out)
		}
	}
	b, _ := json.Marshal(task)
	if strings.Contains(string(b), "hunter2") || !strings.Contains(string(b), "redacted") || !strings.Contains(string(b), "visible") {
		t.Errorf("JSON: %s", b)
	}
}
