package validate_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/cmd/validate"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/embedded"
	"github.com/stix-run/stix/internal/stixcmd"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// run executes `stix <args>` with in-memory streams and returns the exit code, stdout and stderr.
func run(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	f := factory(t, cli.Test(strings.NewReader(""), &out, &errOut), func(k string) string { return env[k] })
	code := stixcmd.Run(context.Background(), f, args)
	return code, out.String(), errOut.String()
}

// factory is the Factory of a command line, with the embedded core over a temporary STIX_HOME.
func factory(t *testing.T, s *cli.IOStreams, getenv func(string) string) *cli.Factory {
	t.Helper()
	client := embedded.New(embedded.Options{Core: cluster.Options{Home: t.TempDir()}, Getenv: getenv})
	t.Cleanup(func() { client.Close() })
	return &cli.Factory{
		IOStreams: s,
		Version:   "test",
		Now:       func() time.Time { return time.Unix(0, 0) },
		Getenv:    getenv,
		Client:    func() (api.Client, error) { return client, nil },
	}
}

// golden compares got with testdata/<name>, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update to accept):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		golden   string // compare stdout with this golden file
		stdout   string // or with this text
		stderr   string // substring of stderr
	}{
		{name: "valid file", args: []string{"validate", "testdata/good.yaml"}, wantCode: 0, stdout: "OK testdata/good.yaml (1 task)\n"},
		{name: "pipeline counts tasks", args: []string{"validate", "testdata/pipeline.yaml"}, wantCode: 0, stdout: "OK testdata/pipeline.yaml (2 tasks)\n"},
		{name: "notes never fail a file", args: []string{"validate", "testdata/notes.yaml"}, wantCode: 0, golden: "notes.golden"},
		{name: "env given on the command line", args: []string{"validate", "--env", "HF_TOKEN=x", "testdata/notes.yaml"}, wantCode: 0,
			stdout: "OK testdata/notes.yaml (1 task)\ntestdata/notes.yaml:2:3: deprecated: resources.cloud: cloud, region and zone are deprecated; use infra: aws\n"},
		{name: "env taken from the environment", args: []string{"validate", "--env", "HF_TOKEN", "testdata/notes.yaml"}, env: map[string]string{"HF_TOKEN": "t"}, wantCode: 0,
			stdout: "OK testdata/notes.yaml (1 task)\ntestdata/notes.yaml:2:3: deprecated: resources.cloud: cloud, region and zone are deprecated; use infra: aws\n"},
		{name: "env from a file", args: []string{"validate", "--env-file", "testdata/hf.env", "testdata/notes.yaml"}, wantCode: 0,
			stdout: "OK testdata/notes.yaml (1 task)\ntestdata/notes.yaml:2:3: deprecated: resources.cloud: cloud, region and zone are deprecated; use infra: aws\n"},
		{name: "env missing from the environment", args: []string{"validate", "--env", "HF_TOKEN", "testdata/notes.yaml"}, wantCode: 2,
			stderr: "--env HF_TOKEN: HF_TOKEN is not set in the local environment"},
		{name: "invalid env name", args: []string{"validate", "--env", "1X=a", "testdata/good.yaml"}, wantCode: 2, stderr: `--env 1X=a: invalid name "1X"`},
		{name: "invalid file lists every error", args: []string{"validate", "testdata/bad.yaml"}, wantCode: 1, golden: "bad.golden"},
		{name: "task config checked as launch checks it", args: []string{"validate", "testdata/badconfig.yaml"}, wantCode: 1, golden: "badconfig.golden"},
		{name: "malformed YAML", args: []string{"validate", "testdata/malformed.yaml"}, wantCode: 1,
			stdout: "testdata/malformed.yaml:4:3: invalid YAML: could not find expected ':'\n"},
		{name: "missing file", args: []string{"validate", "testdata/nope.yaml"}, wantCode: 1, stdout: "testdata/nope.yaml: open testdata/nope.yaml: no such file or directory\n"},
		{name: "several files", args: []string{"validate", "testdata/good.yaml", "testdata/bad.yaml", "testdata/pipeline.yaml"}, wantCode: 1, golden: "several.golden",
			stderr: "1 of 3 files invalid"},
		{name: "json output", args: []string{"validate", "-o", "json", "testdata/good.yaml", "testdata/bad.yaml", "testdata/notes.yaml"}, wantCode: 1, golden: "json.golden"},
		{name: "json output all valid", args: []string{"validate", "--output", "json", "testdata/good.yaml"}, wantCode: 0, golden: "json-valid.golden"},
		{name: "bad output format", args: []string{"validate", "-o", "yaml", "testdata/good.yaml"}, wantCode: 2, stderr: `invalid --output "yaml"`},
		{name: "no files", args: []string{"validate"}, wantCode: 2, stderr: "requires at least 1 arg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := run(t, tt.env, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout, stderr)
			}
			switch {
			case tt.golden != "":
				golden(t, tt.golden, stdout)
			case strings.HasSuffix(tt.stdout, "\n"):
				if stdout != tt.stdout {
					t.Errorf("stdout:\n%s\nwant:\n%s", stdout, tt.stdout)
				}
			case !strings.Contains(stdout, tt.stdout):
				t.Errorf("stdout %q does not contain %q", stdout, tt.stdout)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.stderr)
			}
			if strings.Contains(stdout, "\x1b[") {
				t.Errorf("colour off a terminal: %q", stdout)
			}
		})
	}
}

// TestNewCmdValidate checks the flags reach the options through the runF seam.
func TestNewCmdValidate(t *testing.T) {
	t.Parallel()
	var got *validate.Options
	f := &cli.Factory{IOStreams: cli.Test(nil, &bytes.Buffer{}, &bytes.Buffer{}), Getenv: func(k string) string { return map[string]string{"B": "env-b"}[k] }}
	cmd := validate.NewCmdValidate(f, func(o *validate.Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--env", "A=1", "--env", "B", "--secret", "S=x", "-o", "json", "a.yaml", "b.yaml"})
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !got.JSON || strings.Join(got.Files, ",") != "a.yaml,b.yaml" || got.Load.Env["A"] != "1" || got.Load.Env["B"] != "env-b" || got.Load.Secrets["S"] != "x" {
		t.Errorf("options = %+v", got)
	}
}

func TestValidateColourOnTerminal(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	streams := cli.Test(strings.NewReader(""), &out, &bytes.Buffer{})
	streams.SetTTY(true)
	streams.SetColorEnabled(true)
	f := factory(t, streams, func(string) string { return "" })
	if code := stixcmd.Run(context.Background(), f, []string{"validate", "testdata/good.yaml"}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if want := "\x1b[32mOK\x1b[0m testdata/good.yaml (1 task)\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
