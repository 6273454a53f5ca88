package spec

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// wantErr is one expected error: its position, key path and a fragment of its message (and hint).
type wantErr struct {
	line, col int
	path      string
	msg       string
	hint      string
}

func (w wantErr) String() string {
	return fmt.Sprintf("%d:%d %s: %s (%s)", w.line, w.col, w.path, w.msg, w.hint)
}

func mustFail(t *testing.T, src string, opts LoadOptions) ErrorList {
	t.Helper()
	_, err := Load("task.yaml", []byte(src), opts)
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Load: want an ErrorList, got %v", err)
	}
	return list
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want []wantErr
	}{
		{
			name: "unknown top-level key suggests the closest",
			src:  "run: echo hi\nresorces:\n  cpus: 2\n",
			want: []wantErr{{2, 1, "resorces", `unknown key "resorces"`, `did you mean "resources"?`}},
		},
		{
			name: "workdir git URL git cannot fetch",
			src:  "workdir:\n  url: just-a-name\n",
			want: []wantErr{{2, 8, "workdir.url", `unsupported git URL "just-a-name"`, "file:///path/to/repo"}},
		},
		{
			name: "unknown resources key suggests the closest",
			src:  "resources:\n  acelerators: A100\n",
			want: []wantErr{{2, 3, "resources.acelerators", `unknown key "acelerators"`, `did you mean "accelerators"?`}},
		},
		{
			name: "unknown key far from any gets no suggestion",
			src:  "resources:\n  colour: blue\n",
			want: []wantErr{{2, 3, "resources.colour", `unknown key "colour"`, ""}},
		},
		{
			name: "cpus that is not a number",
			src:  "resources:\n  cpus: two\n",
			want: []wantErr{{2, 9, "resources.cpus", `expected a number or "<number>+" (e.g. 4, 4.5, "4+"), found "two"`, ""}},
		},
		{
			name: "wrong type names expected and found",
			src:  "num_nodes: two\n",
			want: []wantErr{{1, 12, "num_nodes", `expected integer, found string "two"`, ""}},
		},
		{
			name: "mapping where a string is wanted",
			src:  "run:\n  a: b\n",
			want: []wantErr{{2, 3, "run", "expected string, found a mapping", ""}},
		},
		{
			name: "bad env name",
			src:  "envs:\n  1BAD: x\n  GOOD: y\n",
			want: []wantErr{{2, 3, `envs["1BAD"]`, `invalid name "1BAD"`, ""}},
		},
		{
			name: "env value that is a list",
			src:  "envs:\n  A: [1, 2]\n",
			want: []wantErr{{2, 6, "envs.A", "expected string, number, boolean or null, found a list", ""}},
		},
		{
			name: "num_nodes zero",
			src:  "num_nodes: 0\nrun: x\n",
			want: []wantErr{{1, 12, "num_nodes", "must be at least 1, found 0", ""}},
		},
		{
			name: "num_nodes over the maximum",
			src:  "run: x\nnum_nodes: 100000000000\n",
			want: []wantErr{{2, 12, "num_nodes", "100000000000 nodes is over the maximum of 10000", "check num_nodes for a typo"}},
		},
		{
			name: "infra together with cloud",
			src:  "resources:\n  infra: aws\n  cloud: gcp\n",
			want: []wantErr{{3, 3, "resources.cloud", "cannot give cloud together with infra (resources.infra)", "keep only infra"}},
		},
		{
			name: "negative accelerator count",
			src:  "resources:\n  accelerators: \"A100:-1\"\n",
			want: []wantErr{{2, 17, "resources.accelerators", `invalid accelerator count in "A100:-1": must be positive, found -1`, ""}},
		},
		{
			name: "accelerator count that is not a number",
			src:  "resources:\n  accelerators: A100:many\n",
			want: []wantErr{{2, 17, "resources.accelerators", `invalid accelerator count in "A100:many"`, ""}},
		},
		{
			name: "accelerator mapping with a zero count",
			src:  "resources:\n  accelerators: {A100: 0}\n",
			want: []wantErr{{2, 24, "resources.accelerators.A100", "accelerator count must be positive, found 0", ""}},
		},
		{
			name: "port out of range",
			src:  "resources:\n  ports: 70000\n",
			want: []wantErr{{2, 10, "resources.ports", "ports are 1 to 65535, found 70000", ""}},
		},
		{
			name: "port range out of range in a list",
			src:  "resources:\n  ports: [8080, \"0-10\"]\n",
			want: []wantErr{{2, 17, "resources.ports[1]", "ports are 1 to 65535, found 0", ""}},
		},
		{
			name: "reversed port range",
			src:  "resources:\n  ports: 9000-8000\n",
			want: []wantErr{{2, 10, "resources.ports", "the end is below the start", ""}},
		},
		{
			name: "unknown disk_tier",
			src:  "resources:\n  disk_tier: fastest\n",
			want: []wantErr{{2, 14, "resources.disk_tier", `unknown disk_tier "fastest"; expected one of low, medium, high, ultra, best`, ""}},
		},
		{
			name: "disk_tier typo gets a suggestion",
			src:  "resources:\n  disk_tier: hihg\n",
			want: []wantErr{{2, 14, "resources.disk_tier", `unknown disk_tier "hihg"`, `did you mean "high"?`}},
		},
		{
			name: "unknown cloud",
			src:  "resources:\n  infra: awz/us-east-1\n",
			want: []wantErr{{2, 10, "resources.infra", `unknown cloud "awz"`, `did you mean "aws"?`}},
		},
		{
			name: "infra with too many parts",
			src:  "resources:\n  infra: aws/us-east-1/us-east-1a/extra\n",
			want: []wantErr{{2, 10, "resources.infra", `expected "cloud", "cloud/region" or "cloud/region/zone"`, ""}},
		},
		{
			name: "memory with a bad unit",
			src:  "resources:\n  memory: 16XB\n",
			want: []wantErr{{2, 11, "resources.memory", `found "16XB"`, ""}},
		},
		{
			name: "disk_size that is not whole GB",
			src:  "resources:\n  disk_size: 512MB\n",
			want: []wantErr{{2, 14, "resources.disk_size", `must be a whole number of GB, found "512MB"`, ""}},
		},
		{
			name: "priority out of range",
			src:  "resources:\n  priority: 5000\n",
			want: []wantErr{{2, 13, "resources.priority", "must be at most 1000, found 5000", ""}},
		},
		{
			name: "autostop with a bad duration",
			src:  "resources:\n  autostop: 10 minutes\n",
			want: []wantErr{{2, 13, "resources.autostop", `expected minutes or a duration such as "10m"`, ""}},
		},
		{
			name: "unknown job recovery strategy",
			src:  "resources:\n  job_recovery: {strategy: failfast}\n",
			want: []wantErr{{2, 28, "resources.job_recovery.strategy", `unknown recovery strategy "failfast"`, ""}},
		},
		{
			name: "gpus together with accelerators",
			src:  "resources:\n  accelerators: A100\n  gpus: T4\n",
			want: []wantErr{{3, 3, "resources.gpus", "cannot give both accelerators and gpus", "gpus is another name for accelerators; keep one"}},
		},
		{
			name: "any_of together with ordered",
			src:  "resources:\n  any_of: [{infra: aws}]\n  ordered: [{infra: gcp}]\n",
			want: []wantErr{{3, 3, "resources.ordered", "cannot give both any_of and ordered", ""}},
		},
		{
			name: "several accelerators with ordered",
			src:  "resources:\n  accelerators: {A100: 1, T4: 1}\n  ordered: [{infra: aws}]\n",
			want: []wantErr{{3, 3, "resources.ordered", "cannot give several accelerators together with ordered", ""}},
		},
		{
			name: "unknown key inside an any_of entry",
			src:  "resources:\n  any_of:\n    - infra: aws\n      regoin: us-east-1\n",
			want: []wantErr{{4, 7, "resources.any_of[0].regoin", `unknown key "regoin"`, `did you mean "region"?`}},
		},
		{
			name: "infra at top and cloud in a candidate",
			src:  "resources:\n  infra: aws\n  any_of:\n    - cloud: gcp\n",
			want: []wantErr{{4, 7, "resources.any_of[0].cloud", "cannot give cloud together with infra (resources.infra)", ""}},
		},
		{
			name: "candidate accelerators as a list",
			src:  "resources:\n  any_of:\n    - accelerators: [A100, T4]\n",
			want: []wantErr{{3, 21, "resources.any_of[0].accelerators", "expected string or mapping, found a list", ""}},
		},
		{
			name: "bucket destination",
			src:  "file_mounts:\n  s3://bucket: /local\n",
			want: []wantErr{{2, 3, `file_mounts["s3://bucket"]`, "is a bucket URI; destinations are paths on the nodes", ""}},
		},
		{
			name: "source ending with a slash",
			src:  "file_mounts:\n  /data: ./data/\n",
			want: []wantErr{{2, 10, `file_mounts["/data"]`, `the source "./data/" ends with a slash`, `write "./data"`}},
		},
		{
			name: "unknown bucket scheme",
			src:  "file_mounts:\n  /data: ftp://host/data\n",
			want: []wantErr{{2, 10, `file_mounts["/data"]`, `unsupported storage URI scheme "ftp://"`, ""}},
		},
		{
			name: "unknown store and mode",
			src:  "file_mounts:\n  /data:\n    name: b\n    store: s4\n    mode: MOUNTED\n",
			want: []wantErr{
				{4, 12, `file_mounts["/data"].store`, `unknown store "s4"`, `did you mean "s3"?`},
				{5, 11, `file_mounts["/data"].mode`, `unknown storage mode "MOUNTED"`, `did you mean "MOUNT"?`},
			},
		},
		{
			name: "storage without name or source",
			src:  "file_mounts:\n  /data:\n    mode: COPY\n",
			want: []wantErr{{2, 3, `file_mounts["/data"]`, "a storage entry needs a name or a source", ""}},
		},
		{
			name: "service with replicas and replica_policy",
			src:  "service:\n  readiness_probe: /\n  replicas: 2\n  replica_policy:\n    min_replicas: 1\nrun: x\n",
			want: []wantErr{{4, 3, "service.replica_policy", "cannot give both replicas and replica_policy", ""}},
		},
		{
			name: "service max below min",
			src:  "service:\n  replica_policy:\n    min_replicas: 3\n    max_replicas: 2\n    target_qps_per_replica: 1\n",
			want: []wantErr{{4, 19, "service.replica_policy.max_replicas", "max_replicas (2) must be at least min_replicas (3)", ""}},
		},
		{
			name: "service target qps without max",
			src:  "service:\n  replica_policy:\n    min_replicas: 1\n    target_qps_per_replica: 5\n",
			want: []wantErr{{4, 5, "service.replica_policy.target_qps_per_replica", "target_qps_per_replica needs max_replicas", ""}},
		},
		{
			name: "service autoscaling range without target qps",
			src:  "service:\n  replica_policy:\n    min_replicas: 1\n    max_replicas: 3\n",
			want: []wantErr{{4, 5, "service.replica_policy.max_replicas", "differs from min_replicas (1) but target_qps_per_replica is not set", ""}},
		},
		{
			name: "service probe path without slash",
			src:  "service:\n  readiness_probe:\n    path: health\n",
			want: []wantErr{{3, 11, "service.readiness_probe.path", "must start with /", ""}},
		},
		{
			name: "service probe without path",
			src:  "service:\n  readiness_probe:\n    initial_delay_seconds: 5\n",
			want: []wantErr{{2, 3, "service.readiness_probe", `missing required key "path"`, ""}},
		},
		{
			name: "service post_data that is not JSON",
			src:  "service:\n  readiness_probe:\n    path: /\n    post_data: '{not json'\n",
			want: []wantErr{{4, 16, "service.readiness_probe.post_data", "post_data must be a mapping or a JSON string", ""}},
		},
		{
			name: "unknown load balancing policy",
			src:  "service:\n  readiness_probe: /\n  load_balancing_policy: random\n",
			want: []wantErr{{3, 26, "service.load_balancing_policy", `unknown load_balancing_policy "random"`, ""}},
		},
		{
			name: "service per-accelerator qps without the instance-aware policy",
			src:  "service:\n  replica_policy:\n    min_replicas: 1\n    max_replicas: 3\n    target_qps_per_replica: {A100: 5}\n",
			want: []wantErr{{5, 5, "service.replica_policy.target_qps_per_replica", "needs load_balancing_policy: instance_aware_least_load", "give one number"}},
		},
		{
			name: "service instance-aware policy with a single qps",
			src:  "service:\n  replica_policy:\n    min_replicas: 1\n    max_replicas: 3\n    target_qps_per_replica: 5\n  load_balancing_policy: instance_aware_least_load\n",
			want: []wantErr{{6, 26, "service.load_balancing_policy", "needs target_qps_per_replica given per accelerator", "{A100: 10, L4: 4}"}},
		},
		{
			name: "service per-accelerator qps with on-demand fallback",
			src: "service:\n  replica_policy:\n    min_replicas: 1\n    max_replicas: 3\n    target_qps_per_replica: {A100: 5}\n" +
				"    dynamic_ondemand_fallback: true\n  load_balancing_policy: instance_aware_least_load\n",
			want: []wantErr{{5, 5, "service.replica_policy.target_qps_per_replica", "cannot be combined with on-demand fallback", ""}},
		},
		{
			name: "service replicas below zero",
			src:  "service:\n  replicas: -1\n",
			want: []wantErr{{2, 13, "service.replicas", "", ""}},
		},
		{
			name: "service port out of range",
			src:  "service:\n  ports: 70000\n",
			want: []wantErr{{2, 10, "service.ports", "", ""}},
		},
		{
			name: "service tls without certfile",
			src:  "service:\n  tls:\n    keyfile: k.pem\n",
			want: []wantErr{{2, 3, "service.tls", `missing required key "certfile"`, ""}},
		},
		{
			name: "pool of zero workers",
			src:  "pool:\n  workers: 0\nsetup: x\n",
			want: []wantErr{{2, 12, "pool.workers", "a pool needs at least 1 worker, got 0", "set pool.workers to 1 or more"}},
		},
		{
			name: "pool without workers",
			src:  "pool: {}\n",
			want: []wantErr{{1, 1, "pool", "a pool needs its number of workers", "add `workers: N`"}},
		},
		{
			name: "pool with a run section",
			src:  "pool:\n  workers: 2\nrun: x\n",
			want: []wantErr{{3, 1, "run", "a pool's task cannot have a run section", "stix jobs launch --pool NAME"}},
		},
		{
			name: "pool with a service section",
			src:  "pool:\n  workers: 2\nservice:\n  readiness_probe: /\n",
			want: []wantErr{{3, 1, "service", "a task cannot have both a pool and a service section", "keep one"}},
		},
		{
			name: "pool workers not an integer",
			src:  "pool:\n  workers: two\n",
			want: []wantErr{{2, 12, "pool.workers", "", ""}},
		},
		{
			name: "pipeline with a pool section",
			src:  "name: p\n---\nrun: a\n---\nsetup: b\npool:\n  workers: 1\n",
			want: []wantErr{{6, 1, "pool", "a pipeline cannot have a pool section", "apply a single-task file"}},
		},
		{
			name: "pipeline with a service section",
			src:  "name: p\n---\nrun: a\n---\nrun: b\nservice:\n  readiness_probe: /\n",
			want: []wantErr{{6, 1, "service", "a pipeline cannot have a service section", "serve a single-task file"}},
		},
		{
			name: "empty file",
			src:  "",
			want: []wantErr{{1, 1, "", "empty task file", ""}},
		},
		{
			name: "file of comments only",
			src:  "# nothing here\n---\n",
			want: []wantErr{{1, 1, "", "empty task file", ""}},
		},
		{
			name: "malformed YAML",
			src:  "run: echo hi\nresources:\n  cpus: 2\n  memory 4\n  disk_size: 10\n",
			want: []wantErr{{4, 3, "", "invalid YAML: could not find expected ':'", ""}},
		},
		{
			name: "unclosed flow sequence",
			src:  "resources:\n  ports: [8080, 8081\n",
			want: []wantErr{{2, 3, "", "invalid YAML: did not find expected ',' or ']'", ""}},
		},
		{
			name: "YAML error on the first line",
			src:  "run: a: b\n",
			want: []wantErr{{1, 1, "", "invalid YAML: mapping values are not allowed in this context", ""}},
		},
		{
			name: "YAML error in a later document",
			src:  "run: a\n---\nrun: [\n",
			want: []wantErr{{4, 1, "", "invalid YAML: did not find expected node content", ""}},
		},
		{
			name: "unknown anchor",
			src:  "run: a\nsetup: *nope\n",
			want: []wantErr{{2, 8, "", "invalid YAML: unknown anchor 'nope' referenced", ""}},
		},
		{
			name: "document that is not a mapping",
			src:  "- run: a\n",
			want: []wantErr{{1, 1, "", "a task must be a mapping of keys, found a list", ""}},
		},
		{
			name: "duplicate key",
			src:  "run: a\nrun: b\n",
			want: []wantErr{{2, 1, "", `duplicate key "run" (first given at line 1)`, ""}},
		},
		{
			name: "invalid task name",
			src:  "name: -bad-\n",
			want: []wantErr{{1, 7, "name", `invalid task name "-bad-"`, ""}},
		},
		{
			name: "templated placeholder is invalid YAML",
			src:  "file_mounts:\n  /m:\n    name: {{storage_name}}\n",
			want: []wantErr{{3, 12, "", "invalid YAML: a mapping key must be a plain value, not a mapping", ""}},
		},
		{
			name: "unsupported tag",
			src:  "run: !Ref thing\n",
			want: []wantErr{{1, 6, "", "invalid YAML: unsupported tag !Ref", ""}},
		},
		{
			name: "several errors are all reported, sorted by position",
			src: "name: ok\nresources:\n  cpus: two\n  disk_tier: fast\n  ports: 0\n  acelerators: A100\nnum_nodes: 0\n" +
				"envs:\n  9X: y\n",
			want: []wantErr{
				{3, 9, "resources.cpus", "expected a number", ""},
				{4, 14, "resources.disk_tier", `unknown disk_tier "fast"`, ""},
				{5, 10, "resources.ports", "ports are 1 to 65535, found 0", ""},
				{6, 3, "resources.acelerators", `unknown key "acelerators"`, ""},
				{7, 12, "num_nodes", "must be at least 1", ""},
				{9, 3, `envs["9X"]`, `invalid name "9X"`, ""},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			list := mustFail(t, tt.src, LoadOptions{})
			if len(list) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(list), len(tt.want), list)
			}
			for i, w := range tt.want {
				e := list[i]
				if e.Pos.File != "task.yaml" || e.Pos.Line != w.line || e.Pos.Col != w.col || e.Path != w.path ||
					!strings.Contains(e.Message, w.msg) || !strings.Contains(e.Hint, w.hint) {
					t.Errorf("error %d:\n got  %s\n want %s", i, e.Error(), w)
				}
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	t.Parallel()
	list := mustFail(t, "resources:\n  acelerators: A100\n", LoadOptions{})
	want := `task.yaml:2:3: resources.acelerators: unknown key "acelerators" (did you mean "accelerators"?)`
	if got := list.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := (&Error{Path: "--gpus", Message: "bad"}).Error(); got != "--gpus: bad" {
		t.Errorf("command-line error = %q", got)
	}
}

func TestLoadOptionsNamesChecked(t *testing.T) {
	t.Parallel()
	list := mustFail(t, "run: x\n", LoadOptions{Env: map[string]string{"1X": "a"}})
	if len(list) != 1 || list[0].Path != "--env" || !strings.Contains(list[0].Message, `invalid name "1X"`) {
		t.Errorf("got %v", list)
	}
}

func TestInvalidFileStillReturnsPipeline(t *testing.T) {
	t.Parallel()
	p, err := Load("t.yaml", []byte("envs:\n  TOKEN:\nresources:\n  cpus: x\n"), LoadOptions{})
	if err == nil || p == nil || len(p.Notices) != 1 || p.Notices[0].Kind != NoticeMissingEnv {
		t.Fatalf("got pipeline %+v, err %v", p, err)
	}
}
