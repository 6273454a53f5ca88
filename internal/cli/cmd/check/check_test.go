package check

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cloud/credentials"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/embedded"
	"github.com/stix-run/stix/internal/store"
)

// machine is a fake machine for `stix check`: a temporary root holding home/, stix/ and sys/ (the system root),
// with files written into it and an environment.
type machine struct {
	root string
	vars map[string]string
}

func newMachine(t *testing.T, files map[string]string, vars map[string]string) *machine {
	t.Helper()
	m := &machine{root: t.TempDir(), vars: map[string]string{}}
	for rel, content := range files {
		p := filepath.Join(m.root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	m.vars["HOME"] = filepath.Join(m.root, "home")
	for k, v := range vars {
		m.vars[k] = v
	}
	return m
}

func (m *machine) stixHome() string { return filepath.Join(m.root, "stix") }

// run executes `stix check args...` on the machine, off a terminal, and returns stdout, stderr and the error.
func (m *machine) run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	getenv := func(k string) string { return m.vars[k] }
	client := embedded.New(embedded.Options{
		Core:   cluster.Options{Home: m.stixHome(), Now: func() time.Time { return time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) }},
		Getenv: getenv,
		// never the machine's real /var/run/docker.sock
		SystemRoot: filepath.Join(m.root, "sys"),
	})
	defer client.Close()
	f := &cli.Factory{
		IOStreams: cli.Test(strings.NewReader(""), out, errOut),
		Getenv:    getenv,
		StixHome:  func() (string, error) { return m.stixHome(), nil },
		Client:    func() (api.Client, error) { return client, nil },
	}
	cmd := NewCmdCheck(f, nil)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// cached returns the enabled set in the machine's store.
func (m *machine) cached(t *testing.T) []string {
	t.Helper()
	st, err := store.Open(context.Background(), m.stixHome())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	names, ok, err := credentials.LoadEnabled(context.Background(), st)
	if err != nil || !ok {
		t.Fatalf("no cached enabled infra: ok=%v err=%v", ok, err)
	}
	return names
}

const kubeconfig = "current-context: dev\ncontexts:\n- name: dev\n- name: prod\n"

func TestCheckPrintsEveryInfraAndCachesTheEnabledSet(t *testing.T) {
	t.Parallel()
	m := newMachine(t, map[string]string{"home/.kube/config": kubeconfig},
		map[string]string{"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "x"})
	out, errOut, err := m.run(t)
	if err != nil {
		t.Fatalf("stix check: %v (exit 0 expected even with disabled infra)\n%s", err, errOut)
	}
	for _, want := range []string{
		"  ✔ AWS: enabled\n",
		"  ✘ GCP: disabled\n    Reason: no GCP credentials: run `gcloud auth application-default login`",
		"  ✘ Azure: disabled\n",
		"  ✘ Lambda: disabled\n",
		"  ✘ RunPod: disabled\n",
		"  ✔ Kubernetes: enabled\n    Allowed contexts:\n    ├── dev\n    └── prod\n",
		"  ✘ SSH: disabled\n    Reason: no SSH node pools",
		"  ✘ Slurm: disabled\n",
		"  ✘ Docker: disabled\n    Reason: no Docker engine",
		"  ✔ Local: enabled\n",
		"\n🎉 Enabled infra 🎉\n  AWS\n  Kubernetes\n  Local\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Using ") {
		t.Errorf("details are for -v only:\n%s", out)
	}
	if !strings.Contains(errOut, "Checking credentials") || !strings.Contains(errOut, "rerun: stix check") {
		t.Errorf("stderr = %q", errOut)
	}
	if got, want := m.cached(t), []string{"aws", "kubernetes", "local"}; !slices.Equal(got, want) {
		t.Errorf("cached %v, want %v", got, want)
	}
}

// TestCheckVerboseShowsCredentialsInUse: -v names the credentials found; AWS's are confirmed with the fake EC2,
// which the SDK reaches with the profile the offline check found. Not parallel: the SDK reads the process's
// environment.
func TestCheckVerboseShowsCredentialsInUse(t *testing.T) {
	m := newMachine(t, map[string]string{"home/.aws/credentials": "[default]\naws_access_key_id=A\naws_secret_access_key=B\n"}, nil)
	ec2 := fakeAWS(t, map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(m.root, "home/.aws/credentials")})
	ec2.SetAccessKeys("A")
	out, _, err := m.run(t, "-v", "aws", "local")
	if err != nil {
		t.Fatal(err)
	}
	want := "  ✔ AWS: enabled\n    Using profile default: access keys in ~/.aws/credentials\n  ✔ Local: enabled\n    Using this machine"
	if !strings.Contains(out, want) {
		t.Errorf("stdout lacks %q:\n%s", want, out)
	}
	if strings.Contains(out, "GCP") {
		t.Errorf("checked infra not named:\n%s", out)
	}
}

func TestCheckNamedInfraKeepsTheRestOfTheCache(t *testing.T) {
	t.Parallel()
	m := newMachine(t, map[string]string{"home/.kube/config": kubeconfig}, map[string]string{"RUNPOD_API_KEY": "k"})
	if _, _, err := m.run(t); err != nil {
		t.Fatal(err)
	}
	if got := m.cached(t); !slices.Equal(got, []string{"runpod", "kubernetes", "local"}) {
		t.Fatalf("after the full check: %v", got)
	}
	// The kubeconfig goes away and Lambda gets a key; only k8s and lambda are checked again.
	if err := os.Remove(filepath.Join(m.root, "home/.kube/config")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(m.root, "home/.lambda_cloud"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(m.root, "home/.lambda_cloud/lambda_keys"), []byte("api_key = k\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := m.run(t, "K8S", "lambda")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "  ✘ Kubernetes: disabled\n") || !strings.Contains(out, "  ✔ Lambda: enabled\n") ||
		strings.Contains(out, "RunPod: ") {
		t.Errorf("stdout:\n%s", out)
	}
	// The summary is the cached set in effect, including infra not checked this time.
	if !strings.Contains(out, "🎉 Enabled infra 🎉\n  Lambda\n  RunPod\n  Local\n") {
		t.Errorf("summary:\n%s", out)
	}
	if got, want := m.cached(t), []string{"lambda", "runpod", "local"}; !slices.Equal(got, want) {
		t.Errorf("cached %v, want %v", got, want)
	}
}

func TestCheckErrors(t *testing.T) {
	t.Parallel()
	m := newMachine(t, nil, nil)
	_, _, err := m.run(t, "aws", "azurre")
	var fe *cli.FlagError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), `unknown infra "azurre"`) ||
		!strings.Contains(err.Error(), "aws, gcp, azure, lambda, runpod, paperspace, do, nebius, kubernetes, ssh, slurm, docker, local") {
		t.Errorf("unknown infra: err = %v, want a usage error (exit 2) listing the known names", err)
	}
	if _, _, err := m.run(t, "-w", "team", "local"); err == nil || !strings.Contains(err.Error(), `workspace "team" not found`) {
		t.Errorf("unknown workspace: err = %v", err)
	}
	if _, _, err := m.run(t, "-w", "default", "local"); err != nil {
		t.Errorf("default workspace: %v", err)
	}
	// A stix home that cannot hold the state database fails the command after printing the results.
	blocked := newMachine(t, map[string]string{"stix": "a file where the directory should be"}, nil)
	out, _, err := blocked.run(t, "local")
	if err == nil || !strings.Contains(out, "✔ Local: enabled") {
		t.Errorf("unwritable cache: err = %v, stdout %q", err, out)
	}
}
