package embedded_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/embedded"
)

func ptr[T any](v T) *T { return &v }

func newClient(t *testing.T, env map[string]string) *embedded.Client {
	t.Helper()
	home := t.TempDir()
	c := embedded.New(embedded.Options{Core: cluster.Options{Home: home}, UserHome: t.TempDir(),
		Getenv: func(k string) string { return env[k] }})
	t.Cleanup(func() { c.Close() })
	return c
}

// TestValidateReadsTheTaskAsLaunchWould: a task sent as YAML text is read with its file name, so problems keep
// file:line:col; overrides, envs and secrets apply as on the command line; the config layers are read only when
// asked for.
func TestValidateReadsTheTaskAsLaunchWould(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClient(t, nil)
	tests := []struct {
		name     string
		ts       api.TaskSpec
		errs     []string // Text of each error, in order
		config   []string // Text of each config error
		notices  int
		warnings int
	}{
		{name: "clean", ts: api.TaskSpec{YAML: "run: echo hi\n", FileName: "t.yaml"}},
		{name: "positions and file name", ts: api.TaskSpec{YAML: "run: echo hi\nresources:\n  cpus: two\n", FileName: "dir/t.yaml"},
			errs: []string{`dir/t.yaml:3:9: resources.cpus: expected a number or "<number>+" (e.g. 4, 4.5, "4+"), found "two"`}},
		{name: "a bad override names its flag", ts: api.TaskSpec{Command: "echo hi", Overrides: api.TaskOverrides{Cpus: ptr("lots")}},
			errs: []string{"--cpus"}},
		{name: "a pipeline is for jobs launch", ts: api.TaskSpec{YAML: "run: a\n---\nrun: b\n", FileName: "p.yaml"},
			errs: []string{"p.yaml is a pipeline of 2 tasks: run it with `stix jobs launch p.yaml`"}},
		{name: "validate takes a pipeline", ts: api.TaskSpec{YAML: "run: a\n---\nrun: b\n", FileName: "p.yaml", Pipeline: true}},
		{name: "a secret without a value is a note", ts: api.TaskSpec{YAML: "run: echo\nsecrets:\n  TOKEN:\n", FileName: "s.yaml"}, notices: 1},
		{name: "the secret given on the command line", ts: api.TaskSpec{YAML: "run: echo\nsecrets:\n  TOKEN:\n", FileName: "s.yaml",
			Secrets: map[string]string{"TOKEN": "v"}}},
		{name: "config errors come apart", ts: api.TaskSpec{Command: "echo", Config: &api.ConfigLayers{Args: []string{"alowed_clouds=[aws]"}}},
			config: []string{`did you mean "allowed_clouds"`}},
		{name: "no config read unless asked", ts: api.TaskSpec{Command: "echo"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check, err := c.Validate(ctx, tt.ts)
			if err != nil {
				t.Fatal(err)
			}
			matches(t, "errors", check.Errors, tt.errs)
			matches(t, "config errors", check.ConfigErrors, tt.config)
			if len(check.Notices) != tt.notices || len(check.Warnings) != tt.warnings {
				t.Errorf("notices %v, warnings %v", check.Notices, check.Warnings)
			}
		})
	}
}

func matches(t *testing.T, what string, got []api.TaskError, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s = %v, want %d", what, got, len(want))
	}
	for i, w := range want {
		if !strings.Contains(got[i].Text, w) {
			t.Errorf("%s[%d] = %q, want it to contain %q", what, i, got[i].Text, w)
		}
	}
}

// TestABadTaskFailsEveryCallThatTakesIt: Plan, Launch and Exec refuse a bad task with the positioned errors,
// before any operation starts or anything is recorded.
func TestABadTaskFailsEveryCallThatTakesIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClient(t, nil)
	bad := api.TaskSpec{YAML: "run: echo\nnum_nodes: zero\n", FileName: "bad.yaml"}
	_, planErr := c.Plan(ctx, bad)
	_, launchErr := c.Launch(ctx, api.LaunchRequest{Task: bad})
	_, execErr := c.Exec(ctx, api.ExecRequest{Cluster: "c", Task: bad})
	for name, err := range map[string]error{"plan": planErr, "launch": launchErr, "exec": execErr} {
		var list api.TaskErrors
		if !errors.As(err, &list) || list[0].File != "bad.yaml" || list[0].Line != 2 {
			t.Errorf("%s: err = %v, want the positioned task errors", name, err)
		}
	}
	clusters, err := c.Status(ctx, nil, false)
	if err != nil || len(clusters) != 0 {
		t.Errorf("status after refused launches: %v %v", clusters, err)
	}
}

// TestConfigLayersOfTheRequest: the project file of the request's directory applies, and a key stix does not act
// on yet is a warning.
func TestConfigLayersOfTheRequest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".stix.yaml"), []byte("jobs:\n  controller:\n    resources:\n      cpus: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, nil)
	check, err := c.Validate(context.Background(), api.TaskSpec{Command: "echo", Config: &api.ConfigLayers{Dir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	if len(check.Warnings) != 1 || !strings.Contains(check.Warnings[0], ".stix.yaml:2:3: jobs.controller: set, but not used by stix yet") || check.ConfigErr() != nil {
		t.Errorf("check = %+v", check)
	}
}

// TestClosedClient: a call after Close fails instead of opening a store nobody would close.
func TestClosedClient(t *testing.T) {
	t.Parallel()
	c := newClient(t, nil)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status(context.Background(), nil, false); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("status after close: %v", err)
	}
}
