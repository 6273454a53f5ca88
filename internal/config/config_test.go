package config

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/spec"
)

// dirs makes a stix home, a user home and a project directory, and writes files into them.
type dirs struct{ stixHome, home, cwd string }

func newDirs(t *testing.T) dirs {
	t.Helper()
	root := t.TempDir()
	d := dirs{filepath.Join(root, "home", ".stix"), filepath.Join(root, "home"), filepath.Join(root, "proj")}
	for _, p := range []string{d.stixHome, d.cwd} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func write(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func (d dirs) inputs() Inputs { return Inputs{StixHome: d.stixHome, Home: d.home, Cwd: d.cwd} }

// taskConfig is the `config:` section of a one-task file as the task reader gives it to Load.
func taskConfig(t *testing.T, yaml string) spec.Node {
	t.Helper()
	p, err := spec.Load("task.yaml", []byte(yaml), spec.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p.Tasks[0].ConfigNode()
}

func TestLayersMergeInSkyPilotOrder(t *testing.T) {
	t.Parallel()
	d := newDirs(t)
	user := write(t, filepath.Join(d.stixHome, "config.yaml"), `allowed_clouds: [aws, gcp]
kubernetes:
  allowed_contexts: [c1, c2]
  provision_timeout: 600
aws:
  labels:
    map-migrated: my-value
    Owner: user-name
provision:
  ssh_timeout: 10
`)
	project := write(t, filepath.Join(d.cwd, ".stix.yaml"), `kubernetes:
  allowed_contexts: [c3]
  provision_timeout: 300
aws:
  labels:
    Owner: project-name
`)
	in := d.inputs()
	in.TaskFile, in.TaskConfig = "task.yaml", taskConfig(t, "run: echo hi\nconfig:\n  kubernetes:\n    provision_timeout: 120\n  docker:\n    run_options: --cap-add=SYS_ADMIN\n")
	in.CLI = []string{"provision.ssh_timeout=30,allowed_clouds=[aws]"}
	cfg, err := Load(in)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"allowed_clouds": []any{"aws"},
		"kubernetes":     map[string]any{"allowed_contexts": []any{"c3"}, "provision_timeout": int64(120)},
		"aws":            map[string]any{"labels": map[string]any{"map-migrated": "my-value", "Owner": "project-name"}},
		"provision":      map[string]any{"ssh_timeout": int64(30)},
		"docker":         map[string]any{"run_options": "--cap-add=SYS_ADMIN"},
	}
	if got := cfg.ToMap(); !reflect.DeepEqual(got, want) {
		t.Errorf("merged config:\n got %#v\nwant %#v", got, want)
	}
	for _, c := range []struct {
		key, origin string
		layer       Layer
	}{
		{"aws.labels.map-migrated", user + ":7:5", LayerUser},
		{"aws.labels.Owner", project + ":6:5", LayerProject},
		{"kubernetes.allowed_contexts", project + ":2:3", LayerProject},
		{"kubernetes.provision_timeout", "task.yaml:4:5", LayerTask},
		{"provision.ssh_timeout", "--config", LayerCLI},
		{"allowed_clouds", "--config", LayerCLI},
	} {
		o, ok := cfg.Origin(c.key)
		if !ok || o.String() != c.origin || o.Layer != c.layer {
			t.Errorf("Origin(%s) = %v %s, %v; want %s %s", c.key, o.Layer, o, ok, c.layer, c.origin)
		}
	}
	if got := cfg.AllowedClouds(); !reflect.DeepEqual(got, []string{"aws"}) {
		t.Errorf("AllowedClouds = %v", got)
	}
	if got := cfg.ProvisionSSHTimeout(); got != 30*time.Second {
		t.Errorf("ProvisionSSHTimeout = %v", got)
	}
	if got := cfg.DockerRunOptions(); !reflect.DeepEqual(got, []string{"--cap-add=SYS_ADMIN"}) {
		t.Errorf("DockerRunOptions = %v", got)
	}
}

func TestUserFileChoice(t *testing.T) {
	t.Parallel()
	t.Run("sky fallback", func(t *testing.T) {
		t.Parallel()
		d := newDirs(t)
		write(t, filepath.Join(d.home, ".sky", "config.yaml"), "nvidia_gpus:\n  disable_ecc: yes\n")
		cfg, err := Load(d.inputs())
		if err != nil || !cfg.NvidiaDisableECC() {
			t.Fatalf("Load = %v, %v; want disable_ecc from ~/.sky/config.yaml", cfg.ToMap(), err)
		}
	})
	t.Run("stix wins over sky", func(t *testing.T) {
		t.Parallel()
		d := newDirs(t)
		write(t, filepath.Join(d.home, ".sky", "config.yaml"), "allowed_clouds: [gcp]\n")
		write(t, filepath.Join(d.stixHome, "config.yaml"), "allowed_clouds: [aws]\n")
		cfg, err := Load(d.inputs())
		if err != nil || !reflect.DeepEqual(cfg.AllowedClouds(), []string{"aws"}) {
			t.Fatalf("Load = %v, %v", cfg.ToMap(), err)
		}
	})
	t.Run("STIX_CONFIG", func(t *testing.T) {
		t.Parallel()
		d := newDirs(t)
		write(t, filepath.Join(d.stixHome, "config.yaml"), "allowed_clouds: [aws]\n")
		other := write(t, filepath.Join(d.home, "other.yaml"), "allowed_clouds: [Kubernetes]\n")
		in := d.inputs()
		in.Getenv = func(k string) string { return map[string]string{EnvConfig: other}[k] }
		cfg, err := Load(in)
		if err != nil || !reflect.DeepEqual(cfg.AllowedClouds(), []string{"kubernetes"}) {
			t.Fatalf("Load = %v, %v", cfg.ToMap(), err)
		}
		in.Getenv = func(string) string { return filepath.Join(d.home, "missing.yaml") }
		if _, err := Load(in); err == nil || !strings.Contains(err.Error(), "does not exist: fix the path or unset STIX_CONFIG") {
			t.Fatalf("Load with a missing STIX_CONFIG = %v", err)
		}
	})
	t.Run("sky project file", func(t *testing.T) {
		t.Parallel()
		d := newDirs(t)
		write(t, filepath.Join(d.cwd, ".sky.yaml"), "provision:\n  ssh_timeout: 7\n")
		cfg, err := Load(d.inputs())
		if err != nil || cfg.ProvisionSSHTimeout() != 7*time.Second {
			t.Fatalf("Load = %v, %v", cfg.ToMap(), err)
		}
	})
	t.Run("none", func(t *testing.T) {
		t.Parallel()
		cfg, err := Load(newDirs(t).inputs())
		if err != nil || len(cfg.ToMap()) != 0 || cfg.AllowedClouds() != nil || len(cfg.Warnings()) != 0 {
			t.Fatalf("Load = %v, %v", cfg.ToMap(), err)
		}
	})
}

func TestCLIConfigFile(t *testing.T) {
	t.Parallel()
	d := newDirs(t)
	write(t, filepath.Join(d.stixHome, "config.yaml"), "allowed_clouds: [aws]\nprovision:\n  ssh_timeout: 5\n")
	f := write(t, filepath.Join(d.home, "override.yaml"), "allowed_clouds: [gcp]\n")
	in := d.inputs()
	in.CLI = []string{f, "provision.ssh_timeout=9"}
	cfg, err := Load(in)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.AllowedClouds(), []string{"gcp"}) || cfg.ProvisionSSHTimeout() != 9*time.Second {
		t.Fatalf("merged = %v", cfg.ToMap())
	}
	if o, _ := cfg.Origin("allowed_clouds"); o.String() != f+":1:1" || o.Layer != LayerCLI {
		t.Errorf("Origin(allowed_clouds) = %v", o)
	}
}

func TestPodConfigListsAppend(t *testing.T) {
	t.Parallel()
	d := newDirs(t)
	write(t, filepath.Join(d.stixHome, "config.yaml"), "kubernetes:\n  pod_config:\n    spec:\n      tolerations: [{key: a}]\n")
	write(t, filepath.Join(d.cwd, ".stix.yaml"), "kubernetes:\n  pod_config:\n    spec:\n      tolerations: [{key: b}]\n")
	cfg, err := Load(d.inputs())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := cfg.Get("kubernetes.pod_config.spec.tolerations")
	want := []any{map[string]any{"key": "a"}, map[string]any{"key": "b"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("tolerations = %#v, want %#v", got, want)
	}
}

func TestWarningsForKnownKeysNotHonoured(t *testing.T) {
	t.Parallel()
	d := newDirs(t)
	user := write(t, filepath.Join(d.stixHome, "config.yaml"), `allowed_clouds: [aws]
jobs:
  controller:
    resources:
      cpus: 4+
  bucket: s3://b/jobs
  force_disable_cloud_bucket: false
provision:
  ssh_timeout: 10
  install_conda: false
`)
	in := d.inputs()
	in.CLI = []string{"api_server.endpoint=http://127.0.0.1:46580,api_server.logs_retention_hours=24"}
	cfg, err := Load(in)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range cfg.Warnings() {
		got = append(got, w.String())
	}
	tail := ": set, but not used by stix yet (stix accepts it for SkyPilot compatibility)"
	want := []string{
		user + ":3:3: jobs.controller" + tail, // jobs.bucket is honoured, so jobs is looked into
		user + ":10:3: provision.install_conda" + tail,
		"--config: api_server.logs_retention_hours" + tail,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("warnings:\n got %q\nwant %q", got, want)
	}
	if v, ok := cfg.Get("jobs.controller.resources.cpus"); !ok || v != "4+" {
		t.Errorf("raw jobs.controller.resources.cpus = %v, %v", v, ok)
	}
	if cfg.APIServerEndpoint() != "http://127.0.0.1:46580" {
		t.Errorf("APIServerEndpoint = %q", cfg.APIServerEndpoint())
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, user, task string
		cli              []string
		want             string // with USER standing for the user file's path
	}{
		{name: "wrong type", user: "provision:\n  ssh_timeout: soon\n",
			want: `USER:2:16: provision.ssh_timeout: expected integer, found string "soon"`},
		{name: "below minimum", user: "provision:\n  ssh_timeout: 0\n",
			want: `USER:2:16: provision.ssh_timeout: must be at least 1, found 0`},
		{name: "misspelt key", user: "alowed_clouds: [aws]\n",
			want: `USER:1:1: alowed_clouds: unknown key "alowed_clouds" (did you mean "allowed_clouds"?)`},
		{name: "unknown nested key", user: "aws:\n  ssh_usr: ubuntu\n",
			want: `USER:2:3: aws.ssh_usr: unknown key "ssh_usr" (did you mean "ssh_user"?)`},
		{name: "unknown key, no suggestion", user: "frobnicate: 1\n",
			want: `USER:1:1: frobnicate: unknown key "frobnicate"`},
		{name: "bad enum", user: "allowed_clouds: [aws, gpc]\n",
			want: `USER:1:23: allowed_clouds[1]: "gpc" is not one of aws, azure, gcp, ibm, lambda, scp, oci, kubernetes, runpod, vast, vsphere, cudo, fluidstack, paperspace, do, nebius, ssh, hyperbolic, slurm, cloudflare, local, docker (did you mean "gcp"?)`},
		{name: "broken YAML", user: "aws:\n  labels: [a\n",
			want: `USER:2:3: invalid YAML: did not find expected ',' or ']'`},
		{name: "not a mapping", user: "- aws\n",
			want: `USER:1:1: a config must be a mapping of keys, found a list`},
		{name: "missing required", user: "logs:\n  gcp:\n    project_id: p\n",
			want: `USER:2:3: logs: missing required key "store"`},
		{name: "cli key names nothing", cli: []string{"alowed_clouds=[aws]"},
			want: `--config: alowed_clouds: unknown key "alowed_clouds" (did you mean "allowed_clouds"?)`},
		{name: "cli nested key names nothing", cli: []string{"provision.ssh_timout=5"},
			want: `--config: provision.ssh_timout: unknown key "ssh_timout" (did you mean "ssh_timeout"?)`},
		{name: "cli wrong type", cli: []string{"provision.ssh_timeout=[1]"},
			want: `--config: provision.ssh_timeout: expected integer, found a list`},
		{name: "cli neither file nor pair", cli: []string{"missing.yaml"},
			want: `--config: "missing.yaml" is neither a file nor KEY=VALUE (give a config file that exists, or dotted.key=value pairs separated by commas)`},
		{name: "task sets a key tasks may not set", task: "run: echo\nconfig:\n  allowed_clouds: [aws]\n",
			want: `task.yaml:3:3: config.allowed_clouds: a task's config: cannot set allowed_clouds (set it in ~/.stix/config.yaml, .stix.yaml or with --config; a task may set only ` + strings.Join(taskKeys, ", ") + `)`},
		{name: "task sets a nested key tasks may not set", task: "run: echo\nconfig:\n  kubernetes:\n    provision_timeout: 5\n    namespace: x\n",
			want: `task.yaml:5:5: config.kubernetes.namespace: a task's config: cannot set kubernetes.namespace (set it in ~/.stix/config.yaml, .stix.yaml or with --config; a task may set only ` + strings.Join(taskKeys, ", ") + `)`},
		{name: "task config misspelt", task: "run: echo\nconfig:\n  dokcer:\n    run_options: x\n",
			want: `task.yaml:3:3: config.dokcer: unknown key "dokcer" (did you mean "docker"?)`},
		{name: "task config wrong type", task: "run: echo\nconfig:\n  nvidia_gpus:\n    disable_ecc: maybe\n",
			want: `task.yaml:4:18: config.nvidia_gpus.disable_ecc: expected boolean, found string "maybe"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := newDirs(t)
			in := d.inputs()
			user := ""
			if c.user != "" {
				user = write(t, filepath.Join(d.stixHome, "config.yaml"), c.user)
			}
			if c.task != "" {
				in.TaskFile, in.TaskConfig = "task.yaml", taskConfig(t, c.task)
			}
			in.CLI = c.cli
			cfg, err := Load(in)
			if err == nil {
				t.Fatalf("Load = %v, want an error", cfg.ToMap())
			}
			if want := strings.ReplaceAll(c.want, "USER", user); err.Error() != want {
				t.Fatalf("error:\n got %s\nwant %s", err, want)
			}
		})
	}
}

// TestWholeSchema loads a config that sets keys of every section, as SkyPilot's reference shows them.
func TestWholeSchema(t *testing.T) {
	t.Parallel()
	d := newDirs(t)
	write(t, filepath.Join(d.stixHome, "config.yaml"), `api_server:
  endpoint: http://xx.xx.xx.xx:8000
  service_account_token: sky_xxx
  requests_retention_hours: 24
allowed_clouds: [aws, gcp, kubernetes, local]
admin_policy: my_package.SkyPilotPolicyV1
workspaces:
  team-a:
    gcp:
      project_id: proj
    aws:
      disabled: true
    lambda:
      disabled: true
active_workspace: team-a
jobs:
  bucket: s3://my-bucket
  controller:
    resources:
      cpus: 4+
    autostop:
      idle_minutes: 10
      down: false
    consolidation_mode: true
serve:
  controller:
    resources:
      disk_size: 100
docker:
  run_options: [--cap-add=SYS_ADMIN, -v /tmp:/tmp]
nvidia_gpus:
  disable_ecc: false
provision:
  ssh_timeout: 10
  install_conda: true
logs:
  store: gcp
  gcp:
    project_id: p
aws:
  labels: {Owner: me}
  vpc_name: skypilot-vpc
  use_internal_ips: true
  ssh_proxy_command:
    us-east-1: ssh -W %h:%p jump
  security_group_name:
    - my-cluster-*: sg-1
    - "*": sg-2
  remote_identity: LOCAL_CREDENTIALS
gcp:
  vpc_name: my-vpc
  managed_instance_group:
    run_duration: 3600
  remote_identity: SERVICE_ACCOUNT
azure:
  storage_account: acct
kubernetes:
  allowed_contexts: [ctx1]
  ports: ingress
  networking: portforward
  custom_metadata:
    labels: {a: b}
  pod_config:
    spec:
      runtimeClassName: nvidia
  context_configs:
    ctx1:
      namespace: ns
      provision_timeout: 30
ssh:
  allowed_node_pools: [pool1]
oci:
  region_configs:
    default:
      compartment_ocid: x
daemons:
  skypilot-status-refresh-daemon:
    log_level: DEBUG
`)
	cfg, err := Load(d.inputs())
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.AllowedList("ssh.allowed_node_pools", false).Names; !reflect.DeepEqual(got, []string{"pool1"}) {
		t.Errorf("ssh.allowed_node_pools = %v", got)
	}
	if got := cfg.DockerRunOptions(); !reflect.DeepEqual(got, []string{"--cap-add=SYS_ADMIN", "-v /tmp:/tmp"}) {
		t.Errorf("DockerRunOptions = %v", got)
	}
}

func TestContext(t *testing.T) {
	t.Parallel()
	if c := FromContext(context.Background()); c.AllowedClouds() != nil || c.ProvisionSSHTimeout() != 0 || len(c.Warnings()) != 0 {
		t.Fatalf("empty context gives %v", c.ToMap())
	}
	d := newDirs(t)
	in := d.inputs()
	in.CLI = []string{"allowed_clouds=[AWS]"}
	cfg, err := Load(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := FromContext(NewContext(context.Background(), cfg)).AllowedClouds(); !reflect.DeepEqual(got, []string{"aws"}) {
		t.Fatalf("AllowedClouds from context = %v", got)
	}
}

// TestEndlessConfigFile reads each config layer's file with the task reader's size limit: a link to /dev/zero
// fails fast with an error naming the file and the limit.
func TestEndlessConfigFile(t *testing.T) {
	t.Parallel()
	for _, layer := range []string{"user", "project", "STIX_CONFIG", "--config"} {
		t.Run(layer, func(t *testing.T) {
			t.Parallel()
			d := newDirs(t)
			in := d.inputs()
			link := filepath.Join(d.stixHome, "config.yaml")
			switch layer {
			case "project":
				link = filepath.Join(d.cwd, ".stix.yaml")
			case "STIX_CONFIG":
				link = filepath.Join(d.home, "zero.yaml")
				in.Getenv = func(k string) string { return map[string]string{EnvConfig: link}[k] }
			case "--config":
				link = filepath.Join(d.home, "zero.yaml")
				in.CLI = []string{link}
			}
			if err := os.Symlink("/dev/zero", link); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(in)
			if err == nil {
				t.Fatalf("Load = %v, want an error", cfg.ToMap())
			}
			if want := "config file " + link + " is larger than the 8 MiB limit"; !strings.Contains(err.Error(), want) {
				t.Fatalf("error:\n got %s\nwant it to contain %q", err, want)
			}
			if strings.Contains(err.Error(), "file_mounts") {
				t.Errorf("error %q gives a task file's hint for a config file", err)
			}
		})
	}
}

// TestServerOnlyKeysFromClients: on an API server the client's project file and --config cannot set the keys
// only the server's config sets; each is dropped with a warning, and the server's own value stays.
func TestServerOnlyKeysFromClients(t *testing.T) {
	t.Parallel()
	home, proj := t.TempDir(), t.TempDir()
	write(t, filepath.Join(home, "config.yaml"), "allowed_clouds: [local]\nadmin_policy: stix:enforce_autostop\n")
	write(t, filepath.Join(proj, ".stix.yaml"), "allowed_clouds: [aws]\nprovision:\n  ssh_timeout: 7\n")
	in := Inputs{StixHome: home, Cwd: proj, CLI: []string{"admin_policy=http://127.0.0.1:1/allow-all,provision.ssh_timeout=9"}}
	local, err := Load(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := local.AllowedClouds(); !reflect.DeepEqual(got, []string{"aws"}) {
		t.Errorf("embedded: allowed_clouds = %v, want the project's [aws]", got)
	}
	in.Remote = true
	remote, err := Load(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := remote.AllowedClouds(); !reflect.DeepEqual(got, []string{"local"}) {
		t.Errorf("server: allowed_clouds = %v, want the server's [local]", got)
	}
	if v, _ := remote.Get("admin_policy"); v != "stix:enforce_autostop" {
		t.Errorf("server: admin_policy = %v, want the server's", v)
	}
	if remote.ProvisionSSHTimeout() != 9*time.Second {
		t.Errorf("server: a key clients may set was dropped: ssh_timeout %v", remote.ProvisionSSHTimeout())
	}
	var ignored []string
	for _, w := range remote.Warnings() {
		if w.Ignored {
			ignored = append(ignored, w.String())
		}
	}
	want := []string{
		filepath.Join(proj, ".stix.yaml") + ":1:1: allowed_clouds: ignored: only the API server's own config sets it",
		"--config: admin_policy: ignored: only the API server's own config sets it",
	}
	if !reflect.DeepEqual(ignored, want) {
		t.Errorf("warnings %q, want %q", ignored, want)
	}
}

// TestRequestsRetention: api_server.requests_retention_hours as the API server's garbage collection reads it.
func TestRequestsRetention(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		yaml string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"api_server:\n  requests_retention_hours: 48\n", 48 * time.Hour, true},
		{"api_server:\n  requests_retention_hours: -1\n", -1, true},
		{"api_server:\n  requests_retention_hours: 0\n", time.Nanosecond, true},
	} {
		cfg, err := Parse(LayerUser, "config.yaml", []byte(tc.yaml))
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := cfg.RequestsRetention(); d != tc.want || ok != tc.ok {
			t.Errorf("%q: RequestsRetention() = %v, %v; want %v, %v", tc.yaml, d, ok, tc.want, tc.ok)
		}
	}
}
