package spec

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestParseInfra(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Infra
		str     string
		wantErr string
	}{
		{in: "aws", want: Infra{Cloud: "aws"}, str: "aws"},
		{in: "GCP/us-central1", want: Infra{Cloud: "gcp", Region: "us-central1"}, str: "gcp/us-central1"},
		{in: "aws/us-east-1/us-east-1a", want: Infra{Cloud: "aws", Region: "us-east-1", Zone: "us-east-1a"}, str: "aws/us-east-1/us-east-1a"},
		{in: "*/us-east-1", want: Infra{Region: "us-east-1"}, str: "*/us-east-1"},
		{in: "aws/*/us-east-1a", want: Infra{Cloud: "aws", Zone: "us-east-1a"}, str: "aws/*/us-east-1a"},
		{in: "*", want: Infra{}, str: ""},
		{in: "k8s", want: Infra{Cloud: "kubernetes"}, str: "kubernetes"},
		{in: "kubernetes/gke_p_us_c/x", want: Infra{Cloud: "kubernetes", Context: "gke_p_us_c/x"}, str: "kubernetes/gke_p_us_c/x"},
		{in: " ssh/lab/", want: Infra{Cloud: "ssh", Context: "lab"}, str: "ssh/lab"},
		{in: "slurm/hpc", want: Infra{Cloud: "slurm", Context: "hpc"}, str: "slurm/hpc"},
		{in: "Docker", want: Infra{Cloud: "docker"}, str: "docker"},
		{in: "local", want: Infra{Cloud: "local"}, str: "local"},
		{in: "", wantErr: "infra is empty"},
		{in: "aws//us-east-1", wantErr: "empty part"},
		{in: "local/x", wantErr: "local takes no region or zone"},
		{in: "aws/a/b/c", wantErr: `expected "cloud", "cloud/region" or "cloud/region/zone"`},
		{in: "gpc", wantErr: `unknown cloud "gpc"`},
	}
	for _, tt := range tests {
		got, err := ParseInfra(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseInfra(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want || got.String() != tt.str {
			t.Errorf("ParseInfra(%q) = %+v (%q), %v; want %+v (%q)", tt.in, got, got.String(), err, tt.want, tt.str)
		}
	}
	if _, err := ParseInfra("gpc"); !strings.Contains(err.Error(), `did you mean "gcp"?`) {
		t.Errorf("no suggestion: %v", err)
	}
}

func TestParseAccelerators(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Accelerator
		wantErr string
	}{
		{in: "A100", want: Accelerator{Name: "A100", Count: 1}},
		{in: "A100:8", want: Accelerator{Name: "A100", Count: 8}},
		{in: "V100:0.5", want: Accelerator{Name: "V100", Count: 0.5}},
		{in: "a10g", want: Accelerator{Name: "a10g", Count: 1}},
		{in: "tpu-v6e-8", want: Accelerator{Name: "tpu-v6e-8", Count: 1}},
		{in: "Inferentia:6", want: Accelerator{Name: "Inferentia", Count: 6}},
		{in: "80GB+", want: Accelerator{Count: 1, Memory: &Quantity{Value: 80, OrMore: true}}},
		{in: "24GB:2", want: Accelerator{Count: 2, Memory: &Quantity{Value: 24}}},
		{in: "nvidia:80GB", want: Accelerator{Count: 1, Memory: &Quantity{Value: 80}, Manufacturer: "nvidia"}},
		{in: "amd:192GB:8", want: Accelerator{Count: 8, Memory: &Quantity{Value: 192}, Manufacturer: "amd"}},
		{in: "A100:-1", wantErr: "must be positive, found -1"},
		{in: "A100:0", wantErr: "must be positive, found 0"},
		{in: "A100:x", wantErr: "expected a number"},
		{in: "A100:nan", wantErr: "expected a number"},
		{in: "A100:1:2", wantErr: "<manufacturer>:<memory>:<count>"},
		{in: "", wantErr: "invalid accelerator name"},
		{in: ":4", wantErr: "invalid accelerator name"},
		{in: "A 100", wantErr: "invalid accelerator name"},
	}
	for _, tt := range tests {
		acc, err := ParseAccelerators(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseAccelerators(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || len(acc.Options) != 1 || !reflect.DeepEqual(acc.Options[0], tt.want) {
			t.Errorf("ParseAccelerators(%q) = %+v, %v; want %+v", tt.in, acc, err, tt.want)
		}
	}
}

func TestParseQuantities(t *testing.T) {
	t.Parallel()
	cpus := map[string]Quantity{"4": {Value: 4}, "4.5": {Value: 4.5}, "4+": {Value: 4, OrMore: true}, " 2+ ": {Value: 2, OrMore: true}}
	for in, want := range cpus {
		if got, err := ParseQuantity(in); err != nil || got != want {
			t.Errorf("ParseQuantity(%q) = %+v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"two", "", "+", "0", "-1", "4++", "inf", "4x", "0x10"} {
		if _, err := ParseQuantity(bad); err == nil {
			t.Errorf("ParseQuantity(%q) accepted", bad)
		}
	}
	mem := map[string]Quantity{
		"16": {Value: 16}, "16+": {Value: 16, OrMore: true}, "8x": {Value: 8, PerCPU: true}, "4x+": {Value: 4, PerCPU: true, OrMore: true},
		"64GB": {Value: 64}, "64gb+": {Value: 64, OrMore: true}, "1024MB": {Value: 1}, "1TB": {Value: 1024}, "16GiB": {Value: 16},
		"1.5TB": {Value: 1536}, "512Mi": {Value: 0.5},
	}
	for in, want := range mem {
		if got, err := ParseMemory(in); err != nil || got != want {
			t.Errorf("ParseMemory(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"lots", "16XB", "0", "-4", "4+x", "GB", ""} {
		if _, err := ParseMemory(bad); err == nil {
			t.Errorf("ParseMemory(%q) accepted", bad)
		}
	}
	disks := map[string]int{"100": 100, "1TB": 1024, "512GiB": 512, "2048MB": 2}
	for in, want := range disks {
		if got, err := ParseDiskSize(in); err != nil || got != want {
			t.Errorf("ParseDiskSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"512MB", "1.5", "0", "big", "100+"} {
		if _, err := ParseDiskSize(bad); err == nil {
			t.Errorf("ParseDiskSize(%q) accepted", bad)
		}
	}
	if s := (Quantity{Value: 4, OrMore: true}).String() + " " + (Quantity{Value: 8, PerCPU: true}).String(); s != "4+ 8x" {
		t.Errorf("String = %q", s)
	}
}

func TestParsePorts(t *testing.T) {
	t.Parallel()
	got, err := ParsePorts("8080", "8000-8010", "8011", "22", "9000-9000")
	if err != nil || got.String() != "22,8000-8011,8080,9000" {
		t.Errorf("ParsePorts = %q, %v", got.String(), err)
	}
	if !got.Contains(8005) || got.Contains(8012) {
		t.Errorf("Contains is wrong for %s", got)
	}
	for _, bad := range []string{"0", "65536", "x", "10-5", "1-70000", "-5", "+80", ""} {
		if _, err := ParsePorts(bad); err == nil {
			t.Errorf("ParsePorts(%q) accepted", bad)
		}
	}
}

func TestPyFloat(t *testing.T) {
	t.Parallel()
	tests := map[float64]string{
		1: "1.0", 1.1: "1.1", 0.1: "0.1", 1e16: "1e+16", 1e15: "1000000000000000.0", 0.0001: "0.0001",
		0.00001: "1e-05", -2.5: "-2.5", 123456789.123: "123456789.123", math.Inf(1): "inf", math.NaN(): "nan",
	}
	for in, want := range tests {
		if got := pyFloat(in); got != want {
			t.Errorf("pyFloat(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestParseEnvFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	content := "# comment\n\nA=1\nexport B = two words \nC='lit $X \\n'\nD=\"esc\\n\\\"q\\\"\"\nE=\"multi\nline\"\nF=bare # trailing\nG=\nH=a=b\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ParseEnvFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "B": "two words", "C": "lit $X \\n", "D": "esc\n\"q\"", "E": "multi\nline", "F": "bare", "G": "", "H": "a=b"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseEnvFile = %q, want %q", got, want)
	}
	for name, bad := range map[string]string{"no equals": "JUSTKEY\n", "bad name": "1X=a\n", "unterminated": "A=\"open\n"} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(p, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ParseEnvFile(p); err == nil || !strings.Contains(err.Error(), p+":1:") {
			t.Errorf("%s: error = %v, want one positioned at %s:1", name, err, p)
		}
	}
	if _, err := ParseEnvFile(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("a missing file is no error")
	}
}

func TestApplyOverrides(t *testing.T) {
	t.Parallel()
	src := "name: a\nnum_nodes: 2\nresources:\n  accelerators: A100:8\n  cpus: 8+\n  ports: 8080\n  any_of:\n    - infra: aws\n    - infra: gcp\n"
	load := func() *Task { return mustTask(t, src) }

	task := load()
	err := task.ApplyOverrides(Overrides{
		Name: ptr("b"), NumNodes: ptr(4), Infra: ptr("k8s/ctx"), Accelerators: ptr("H100:1"), Cpus: ptr("none"),
		Memory: ptr("32+"), InstanceType: ptr("m5.large"), UseSpot: ptr(true), ImageID: ptr("docker:img"),
		DiskSize: ptr("1TB"), DiskTier: ptr("HIGH"), NetworkTier: ptr("best"), Ports: []string{"9000-9001"}, Workdir: ptr("."),
	})
	if err != nil {
		t.Fatal(err)
	}
	if task.Name != "b" || task.NumNodes != 4 || task.Workdir.Path != "." {
		t.Errorf("task fields: %q %d %+v", task.Name, task.NumNodes, task.Workdir)
	}
	for _, r := range append([]*Resources{task.Resources}, task.Resources.AnyOf...) {
		if r.Infra.String() != "kubernetes/ctx" || r.Accelerators.String() != "H100:1" || r.CPUs != nil ||
			r.Memory.String() != "32+" || r.InstanceType != "m5.large" || !r.Spot() || r.ImageID.ID != "docker:img" ||
			r.DiskSizeGB != 1024 || r.DiskTier != "high" || r.NetworkTier != "best" || r.Ports.String() != "9000-9001" {
			t.Errorf("resources not overridden: %+v", r)
		}
	}
	// Overrides of one candidate do not leak into another through shared pointers.
	*task.Resources.AnyOf[0].UseSpot = false
	if !task.Resources.AnyOf[1].Spot() {
		t.Errorf("candidates share the use_spot pointer")
	}

	// Bad values: every bad flag is reported, by name, and nothing changes.
	task = load()
	err = task.ApplyOverrides(Overrides{NumNodes: ptr(0), Infra: ptr("nowhere"), Accelerators: ptr("A100:-1"), Cpus: ptr("many"),
		Memory: ptr("lots"), DiskSize: ptr("1.5"), DiskTier: ptr("fast"), NetworkTier: ptr("slow"), Ports: []string{"70000"}, Name: ptr("-x-")})
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("want an ErrorList, got %v", err)
	}
	var flags []string
	for _, e := range list {
		flags = append(flags, e.Path)
	}
	sort.Strings(flags)
	want := []string{"--cpus", "--disk-size", "--disk-tier", "--gpus", "--infra", "--memory", "--name", "--network-tier", "--num-nodes", "--ports"}
	if !reflect.DeepEqual(flags, want) {
		t.Errorf("flags = %v, want %v\n%v", flags, want, list)
	}
	if task.NumNodes != 2 || task.Resources.Accelerators.String() != "A100:8" {
		t.Errorf("task changed despite errors")
	}
	// --num-nodes over the maximum is refused with the limit, not clamped.
	task = load()
	err = task.ApplyOverrides(Overrides{NumNodes: ptr(MaxNumNodes + 1)})
	if err == nil || !strings.Contains(err.Error(), "--num-nodes") || !strings.Contains(err.Error(), "over the maximum of 10000") {
		t.Errorf("--num-nodes %d: %v, want the maximum named", MaxNumNodes+1, err)
	}

	// "none" resets.
	task = load()
	if err := task.ApplyOverrides(Overrides{Accelerators: ptr("none"), Ports: []string{"none"}, Infra: ptr("None")}); err != nil {
		t.Fatal(err)
	}
	if task.Resources.Accelerators != nil || task.Resources.Ports != nil || !task.Resources.AnyOf[0].Infra.IsZero() {
		t.Errorf("none did not reset: %+v", task.Resources)
	}
	if !(Overrides{}).IsZero() {
		t.Errorf("IsZero")
	}
}

// TestSchemaCandidateKeys keeps the any_of entry schema in step with the resources schema: an entry takes every
// resources key except the candidate lists themselves.
func TestSchemaCandidateKeys(t *testing.T) {
	t.Parallel()
	cs, err := taskSchema()
	if err != nil {
		t.Fatal(err)
	}
	res, _ := resolvePointer(cs.doc, "/$defs/resources")
	top := sortedKeys(res.(map[string]any)["properties"])
	c, _ := resolvePointer(cs.doc, "/$defs/candidate")
	cand := sortedKeys(c.(map[string]any)["properties"])
	var want []string
	for _, k := range top {
		if k != "any_of" && k != "ordered" && k != "candidates" {
			want = append(want, k)
		}
	}
	if !reflect.DeepEqual(cand, want) {
		t.Errorf("candidate keys %v\nwant %v", cand, want)
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	keys := []string{"accelerators", "cpus", "memory", "disk_tier", "infra"}
	for word, want := range map[string]string{"acelerators": "accelerators", "cpu": "cpus", "memroy": "memory", "infar": "infra", "colour": "", "x": ""} {
		if got := suggest(word, keys); got != want {
			t.Errorf("suggest(%q) = %q, want %q", word, got, want)
		}
	}
}

// TestGitWorkdirOverrides follows SkyPilot's update_workdir: --git-url makes the workdir a git repository (with
// --git-ref's ref), --git-ref alone changes the ref of a git workdir; a ref with no repository to apply to, and
// a URL git cannot fetch, are refused by flag.
func TestGitWorkdirOverrides(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, src string
		o         Overrides
		want      *Workdir
		err       string
	}{
		{"url and ref over a local workdir", "workdir: .\n", Overrides{GitURL: ptr("https://github.com/org/repo.git"), GitRef: ptr("v1")},
			&Workdir{URL: "https://github.com/org/repo.git", Ref: "v1"}, ""},
		{"url with no workdir", "run: x\n", Overrides{GitURL: ptr("git@github.com:org/repo.git")},
			&Workdir{URL: "git@github.com:org/repo.git"}, ""},
		{"url keeps the task's ref", "workdir: {url: https://a/b, ref: dev}\n", Overrides{GitURL: ptr("file:///srv/repo.git")},
			&Workdir{URL: "file:///srv/repo.git", Ref: "dev"}, ""},
		{"ref alone changes the ref", "workdir: {url: https://a/b, ref: dev}\n", Overrides{GitRef: ptr("main")},
			&Workdir{URL: "https://a/b", Ref: "main"}, ""},
		{"ref with no repository", "workdir: .\n", Overrides{GitRef: ptr("main")}, nil, "--git-ref: no git repository"},
		{"unsupported url", "run: x\n", Overrides{GitURL: ptr("not a url")}, nil, `--git-url: unsupported git URL "not a url"`},
		{"empty url", "run: x\n", Overrides{GitURL: ptr(" ")}, nil, "--git-url: the git URL is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := mustTask(t, tc.src)
			err := task.ApplyOverrides(tc.o)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if task.Workdir == nil || *task.Workdir != *tc.want {
				t.Errorf("workdir = %+v, want %+v", task.Workdir, tc.want)
			}
		})
	}
}

// TestAddGitSecrets: the client's GIT_TOKEN and SSH key become secrets of a task whose workdir is a git
// repository, and of no other; the task's own secrets win.
func TestAddGitSecrets(t *testing.T) {
	t.Parallel()
	const key = "-----BEGIN OPENSSH PRIVATE KEY-----\n"
	task := mustTask(t, "workdir: {url: 'git@github.com:org/repo.git'}\n")
	task.AddGitSecrets("tok", key)
	if task.Secrets["GIT_TOKEN"] != "tok" || task.Secrets["GIT_SSH_KEY"] != key {
		t.Errorf("secrets = %v", task.Secrets)
	}
	own := mustTask(t, "workdir: {url: https://a/b}\nsecrets: {GIT_TOKEN: mine}\n")
	if own.AddGitSecrets("tok", ""); own.Secrets["GIT_TOKEN"] != "mine" || len(own.Secrets) != 1 {
		t.Errorf("the task's own GIT_TOKEN: %v", own.Secrets)
	}
	local := mustTask(t, "workdir: .\n")
	if local.AddGitSecrets("tok", key); len(local.Secrets) != 0 {
		t.Errorf("local workdir: %v", local.Secrets)
	}
}
