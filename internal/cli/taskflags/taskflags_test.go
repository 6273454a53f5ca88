package taskflags_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/taskflags"
	"github.com/stix-run/stix/internal/spec"
)

func TestParseEntrypoint(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	task := filepath.Join(dir, "task.yaml")
	short := filepath.Join(dir, "task.yml")
	for _, p := range []string{task, short} {
		if err := os.WriteFile(p, []byte("run: echo hi\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "dir.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		want    taskflags.Entrypoint
		wantErr string
	}{
		{"none", nil, taskflags.Entrypoint{}, ""},
		{"existing .yaml", []string{task}, taskflags.Entrypoint{YAMLPath: task}, ""},
		{"existing .yml", []string{short}, taskflags.Entrypoint{YAMLPath: short}, ""},
		{"command words are joined", []string{"python", "train.py", "--lr", "0.1"}, taskflags.Entrypoint{Command: "python train.py --lr 0.1"}, ""},
		{"one quoted command", []string{"echo hello && sleep 1"}, taskflags.Entrypoint{Command: "echo hello && sleep 1"}, ""},
		{"a yaml among other words is a command", []string{"cat", task}, taskflags.Entrypoint{Command: "cat " + task}, ""},
		{"existing non-yaml file is a command", []string{"./run.sh"}, taskflags.Entrypoint{Command: "./run.sh"}, ""},
		{"missing yaml names the file", []string{filepath.Join(dir, "nope.yaml")}, taskflags.Entrypoint{}, "nope.yaml does not exist"},
		{"a directory is not a task", []string{filepath.Join(dir, "dir.yaml")}, taskflags.Entrypoint{}, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := taskflags.ParseEntrypoint(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if got.IsYAML() != (tt.want.YAMLPath != "") || got.IsEmpty() != (len(tt.args) == 0) {
				t.Errorf("IsYAML/IsEmpty wrong for %+v", got)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// resolve registers the task flags on a throwaway command, parses args and resolves them.
func resolve(t *testing.T, env map[string]string, args ...string) (taskflags.Task, string, error) {
	t.Helper()
	var task taskflags.Task
	var resolveErr error
	errOut := &bytes.Buffer{}
	s := cli.Test(strings.NewReader(""), &bytes.Buffer{}, errOut)
	cmd := &cobra.Command{Use: "x", SilenceErrors: true, SilenceUsage: true}
	fl := taskflags.Add(cmd, taskflags.WithName())
	cmd.RunE = func(cmd *cobra.Command, rest []string) error {
		task, resolveErr = fl.Resolve(cmd, s, func(k string) string { return env[k] }, rest)
		return nil
	}
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	if err := cmd.Execute(); err != nil {
		return taskflags.Task{}, errOut.String(), err
	}
	return task, errOut.String(), resolveErr
}

func TestResolve(t *testing.T) {
	t.Parallel()
	env := map[string]string{"HOME": "/home/me", "WANDB_API_KEY": "k-123"}
	tests := []struct {
		name string
		args []string
		want taskflags.Task
	}{
		{"nothing set leaves every override nil", []string{"echo", "hi"},
			taskflags.Task{Entrypoint: taskflags.Entrypoint{Command: "echo hi"}}},
		{"resources", []string{"--gpus", "A100:8", "--cpus=4+", "--memory", "32+", "-t", "p4d.24xlarge", "--num-nodes", "2",
			"--disk-size", "256", "--disk-tier", "HIGH", "--network-tier", "best", "--image-id", "docker:ubuntu", "--infra", "aws/us-east-1"},
			taskflags.Task{Overrides: spec.Overrides{Accelerators: ptr("A100:8"), Cpus: ptr("4+"), Memory: ptr("32+"),
				InstanceType: ptr("p4d.24xlarge"), NumNodes: ptr(2), DiskSize: ptr("256"), DiskTier: ptr("high"),
				NetworkTier: ptr("best"), ImageID: ptr("docker:ubuntu"), Infra: ptr("aws/us-east-1")}}},
		{"name and workdir", []string{"-n", "train", "--workdir", "."},
			taskflags.Task{Overrides: spec.Overrides{Name: ptr("train"), Workdir: ptr(".")}}},
		{"use-spot", []string{"--use-spot"}, taskflags.Task{Overrides: spec.Overrides{UseSpot: ptr(true)}}},
		{"no-use-spot", []string{"--no-use-spot"}, taskflags.Task{Overrides: spec.Overrides{UseSpot: ptr(false)}}},
		{"none resets", []string{"--gpus", "none"}, taskflags.Task{Overrides: spec.Overrides{Accelerators: ptr("none")}}},
		{"ports repeat", []string{"--ports", "8080", "--ports", "9000-9010"},
			taskflags.Task{Overrides: spec.Overrides{Ports: []string{"8080", "9000-9010"}}}},
		{"env forms", []string{"--env", "A=1", "--env", "B=x=y", "--env", "WANDB_API_KEY", "--env", "A=2", "--env", "EMPTY="},
			taskflags.Task{Env: map[string]string{"A": "2", "B": "x=y", "WANDB_API_KEY": "k-123", "EMPTY": ""}}},
		{"secrets, env file, config", []string{"--secret", "TOKEN=s3cr3t", "--secret", "HOME", "--env-file", ".env",
			"--config", "a.b=1", "--config", "cfg.yaml"},
			taskflags.Task{Secrets: map[string]string{"TOKEN": "s3cr3t", "HOME": "/home/me"}, EnvFile: ".env",
				Config: []string{"a.b=1", "cfg.yaml"}}},
		{"deprecated cloud and region become infra", []string{"--cloud", "aws", "--region", "us-west-2"},
			taskflags.Task{Overrides: spec.Overrides{Infra: ptr("aws/us-west-2")}}},
		{"deprecated zone alone keeps wildcards", []string{"--zone", "us-east-1a"},
			taskflags.Task{Overrides: spec.Overrides{Infra: ptr("*/*/us-east-1a")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, _, err := resolve(t, env, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestResolveWarnsAboutDeprecatedFlags(t *testing.T) {
	t.Parallel()
	_, errOut, err := resolve(t, nil, "--cloud", "gcp")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "use --infra") {
		t.Errorf("no deprecation warning on stderr: %q", errOut)
	}
}

func TestResolveErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"env from an unset variable", []string{"--env", "NOT_SET"}, "NOT_SET is not set"},
		{"secret without key", []string{"--secret", "=x"}, "must be KEY=VAL or KEY"},
		// the rule of YAML envs: names (spec.ValidEnvName), checked for inline commands too
		{"env name with a dash", []string{"--env", "MY-VAR=1", "echo", "hi"}, `invalid --env name "MY-VAR"`},
		{"env name starting with a digit", []string{"--env", "1X=1"}, "must start with a letter or _"},
		{"secret name with a space", []string{"--secret", "A B=1"}, `invalid --secret name "A B"`},
		{"infra with cloud", []string{"--infra", "aws", "--cloud", "gcp"}, "--infra"},
		{"ports none with others", []string{"--ports", "none", "--ports", "80"}, "none"},
		{"num-nodes zero", []string{"--num-nodes", "0"}, "at least 1"},
		{"missing task yaml", []string{"missing.yaml"}, "missing.yaml does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := resolve(t, nil, tt.args...)
			var fe *cli.FlagError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want a usage error containing %q", err, tt.want)
			}
		})
	}
}

func TestBadChoiceIsAFlagError(t *testing.T) {
	t.Parallel()
	_, _, err := resolve(t, nil, "--disk-tier", "fastest")
	if err == nil || !strings.Contains(err.Error(), "low, medium, high, ultra, best") {
		t.Errorf("err = %v, want the valid tiers listed", err)
	}
}

// TestSecretHelpPromisesOnlyWhatHolds: stix never shows a secret's value, but what the job itself prints is its
// own; the help must not promise redacted logs.
func TestSecretHelpPromisesOnlyWhatHolds(t *testing.T) {
	t.Parallel()
	cmd := &cobra.Command{Use: "launch"}
	taskflags.Add(cmd)
	usage := cmd.Flags().Lookup("secret").Usage
	if strings.Contains(usage, "redacted in logs") || !strings.Contains(usage, "not filtered") {
		t.Errorf("--secret help = %q; it must say that the job's own output is not filtered", usage)
	}
}

// TestGitCredentialsTravelOnlyForGitWorkdirs: the client's GIT_TOKEN and the key GIT_SSH_KEY_PATH names go with a
// task whose workdir is a git repository (from the YAML or --git-url), never with another; a missing key fails.
func TestGitCredentialsTravelOnlyForGitWorkdirs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := filepath.Join(dir, "id")
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("id", "PRIVATE KEY\n")
	gitTask := write("git.yaml", "workdir: {url: https://example.com/r.git}\nrun: ls\n")
	localTask := write("local.yaml", "workdir: .\nrun: ls\n")
	url := "https://example.com/r.git"
	for _, tc := range []struct {
		name string
		task taskflags.Task
		want *api.GitCredentials
		err  string
	}{
		{"yaml git workdir", taskflags.Task{Entrypoint: taskflags.Entrypoint{YAMLPath: gitTask}, GitToken: "tok", GitSSHKeyPath: key},
			&api.GitCredentials{Token: "tok", SSHKey: "PRIVATE KEY\n"}, ""},
		{"--git-url", taskflags.Task{Entrypoint: taskflags.Entrypoint{Command: "ls"}, Overrides: spec.Overrides{GitURL: &url}, GitToken: "tok"},
			&api.GitCredentials{Token: "tok"}, ""},
		{"local workdir", taskflags.Task{Entrypoint: taskflags.Entrypoint{YAMLPath: localTask}, GitToken: "tok", GitSSHKeyPath: key}, nil, ""},
		{"inline command", taskflags.Task{Entrypoint: taskflags.Entrypoint{Command: "ls"}, GitToken: "tok"}, nil, ""},
		{"missing key", taskflags.Task{Entrypoint: taskflags.Entrypoint{YAMLPath: gitTask}, GitSSHKeyPath: key + ".gone"}, nil, "GIT_SSH_KEY_PATH"},
	} {
		ts, err := tc.task.Spec(false)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want one naming %s", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(ts.Git, tc.want) {
			t.Errorf("%s: Git = %+v, %v; want %+v", tc.name, ts.Git, err, tc.want)
		}
	}
}
