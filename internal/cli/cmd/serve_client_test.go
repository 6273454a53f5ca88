package cmd_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
	servedown "github.com/stix-run/stix/internal/cli/cmd/serve/down"
	servestatus "github.com/stix-run/stix/internal/cli/cmd/serve/status"
	serveup "github.com/stix-run/stix/internal/cli/cmd/serve/up"
	serveupdate "github.com/stix-run/stix/internal/cli/cmd/serve/update"
	"github.com/stix-run/stix/internal/cli/fakeclient"
)

var (
	buildServeUp     = func(f *cli.Factory) *cobra.Command { return serveup.NewCmdUp(f, nil) }
	buildServeStatus = func(f *cli.Factory) *cobra.Command { return servestatus.NewCmdStatus(f, nil) }
	buildServeDown   = func(f *cli.Factory) *cobra.Command { return servedown.NewCmdDown(f, nil) }
	buildServeUpdate = func(f *cli.Factory) *cobra.Command { return serveupdate.NewCmdUpdate(f, nil) }
)

// services is a controller's answer: web READY for an hour with two replicas (one READY, one STARTING) and llm
// still REPLICA_INIT.
func services(names []string) ([]api.Service, error) {
	all := []api.Service{
		{Name: "web", Status: api.ServiceReady, Version: 2, Endpoint: "127.0.0.1:30001", CreatedAt: launchedAt,
			Uptime: api.Seconds(time.Hour), Policy: "least_load", Replicas: []api.Replica{
				{ID: 1, Service: "web", Version: 2, Status: "READY", Cluster: "web-1", Endpoint: "http://127.0.5.1:8080",
					LaunchedAt: launchedAt, Infra: "Local", Resources: "1x(cpus=2, mem=8)"},
				{ID: 3, Service: "web", Version: 2, Status: "STARTING", Cluster: "web-3", Endpoint: "http://127.0.5.3:8080",
					LaunchedAt: now.Add(-time.Minute), Infra: "Local", Resources: "1x(cpus=2, mem=8)"}}},
		{Name: "llm", Status: api.ServiceReplicaInit, Version: 1, Endpoint: "127.0.0.1:30002", CreatedAt: now, Policy: "round_robin",
			Replicas: []api.Replica{{ID: 1, Service: "llm", Version: 1, Status: "PROVISIONING", Cluster: "llm-1", LaunchedAt: now}}},
	}
	if len(names) == 0 {
		return all, nil
	}
	var out []api.Service
	for _, s := range all {
		for _, n := range names {
			if s.Name == n {
				out = append(out, s)
			}
		}
	}
	return out, nil
}

func serveVerbCases() []verbCase {
	status := func() *fakeclient.Client { return &fakeclient.Client{ServeStatusFunc: services} }
	return []verbCase{
		{name: "serve-up", build: buildServeUp, args: []string{"-y", "-n", "web", "testdata/service.yaml"},
			fake: func() *fakeclient.Client {
				return &fakeclient.Client{ServeUpFunc: func(r api.ServeUpRequest) (api.ServeUpResult, error) {
					return api.ServeUpResult{Name: r.Name, Endpoint: "127.0.0.1:30001"}, nil
				}}
			},
			calls: "ServeUp",
			check: func(t *testing.T, c *fakeclient.Client) {
				if req := c.Last("ServeUp")[0].(api.ServeUpRequest); req.Name != "web" || !strings.Contains(req.Task.YAML, "service:") {
					t.Errorf("serve up request = %+v", req)
				}
			}},
		{name: "serve-status", build: buildServeStatus, args: nil, fake: status, calls: "ServeStatus"},
		{name: "serve-status-verbose", build: buildServeStatus, args: []string{"-v", "web"}, fake: status, calls: "ServeStatus"},
		{name: "serve-status-endpoint", build: buildServeStatus, args: []string{"--endpoint", "web"}, fake: status, calls: "ServeStatus"},
		{name: "serve-status-endpoint-unknown", build: buildServeStatus, args: []string{"--endpoint", "nope"}, fake: status, calls: "ServeStatus"},
		{name: "serve-down", build: buildServeDown, args: []string{"-y", "web", "llm"},
			fake: func() *fakeclient.Client {
				return &fakeclient.Client{ServeDownFunc: func(r api.ServeDownRequest) ([]api.ServeDownOutcome, error) {
					var out []api.ServeDownOutcome
					for _, n := range r.Names {
						out = append(out, api.ServeDownOutcome{Name: n, Message: "terminated"})
					}
					return out, nil
				}}
			},
			calls: "ServeDown"},
		{name: "serve-update-unknown", build: buildServeUpdate, args: []string{"-y", "--mode", "blue_green", "nope", "testdata/service.yaml"},
			fake: func() *fakeclient.Client {
				return &fakeclient.Client{ServeUpdateFunc: func(r api.ServeUpdateRequest) (api.ServeUpdateResult, error) {
					if r.Mode != "blue_green" {
						return api.ServeUpdateResult{}, fmt.Errorf("mode %q", r.Mode)
					}
					return api.ServeUpdateResult{}, &api.ServiceNotFoundError{Name: r.Name}
				}}
			},
			calls: "ServeUpdate"},
	}
}

// TestServeVerbsAgainstAFakeClient pins what the serve verbs ask the controller and how they print its answers.
func TestServeVerbsAgainstAFakeClient(t *testing.T) {
	t.Parallel()
	for _, vc := range serveVerbCases() {
		t.Run(vc.name, func(t *testing.T) {
			t.Parallel()
			var golden strings.Builder
			for _, tty := range []bool{false, true} {
				fake := vc.fake()
				out, errOut, err := runVerb(vc.build, fake, tty, vc.args...)
				if got := fake.Methods(); got != vc.calls {
					t.Errorf("tty=%v: calls = %q, want %q", tty, got, vc.calls)
				}
				var nf *fakeclient.NotFaked
				if errors.As(err, &nf) {
					t.Errorf("tty=%v: %v", tty, err)
				}
				if vc.check != nil {
					vc.check(t, fake)
				}
				fmt.Fprintf(&golden, "== tty=%v\n-- stdout --\n%s-- stderr --\n%s-- error --\n%s\n", tty, out, errOut, errText(err))
			}
			compareGolden(t, filepath.Join("testdata", "client", vc.name+".golden"), golden.String())
		})
	}
}

// allUsersClient records whether each serve call's context asked for every user's services.
type allUsersClient struct {
	*fakeclient.Client
	asked map[string]bool
}

func (c *allUsersClient) ServeStatus(ctx context.Context, names []string) ([]api.Service, error) {
	c.asked["ServeStatus"] = api.AllUsers(ctx)
	return c.Client.ServeStatus(ctx, names)
}

func (c *allUsersClient) ServeDown(ctx context.Context, req api.ServeDownRequest) (*api.Operation[[]api.ServeDownOutcome], error) {
	c.asked["ServeDown"] = api.AllUsers(ctx) && req.All
	return c.Client.ServeDown(ctx, req)
}

// TestServeAllUsersFlag: -u asks for every user's services (an API server shows a user only their own
// without it); without it, the caller's.
func TestServeAllUsersFlag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		build  func(*cli.Factory) *cobra.Command
		method string
		args   []string
		want   bool
	}{
		{buildServeStatus, "ServeStatus", nil, false},
		{buildServeStatus, "ServeStatus", []string{"-u"}, true},
		{buildServeStatus, "ServeStatus", []string{"--all-users", "web"}, true},
		{buildServeDown, "ServeDown", []string{"-y", "-a"}, false},
		{buildServeDown, "ServeDown", []string{"-y", "-a", "-u"}, true},
		{buildServeDown, "ServeDown", []string{"-y", "--all-users"}, true},
	} {
		c := &allUsersClient{Client: &fakeclient.Client{ServeStatusFunc: services,
			ServeDownFunc: func(api.ServeDownRequest) ([]api.ServeDownOutcome, error) { return nil, nil }}, asked: map[string]bool{}}
		f := &cli.Factory{IOStreams: cli.Test(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}), Now: func() time.Time { return now },
			ControllerClient: func() (api.Client, error) { return c, nil }}
		cmd := tc.build(f)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		cmd.SetArgs(tc.args)
		if err := cmd.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("%s %v: %v", tc.method, tc.args, err)
		}
		if got, ok := c.asked[tc.method]; !ok || got != tc.want {
			t.Errorf("%s %v: all users %v (called %v), want %v", tc.method, tc.args, got, ok, tc.want)
		}
	}
}
