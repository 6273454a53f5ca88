package cmd_test

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
	poolapply "github.com/stix-run/stix/internal/cli/cmd/jobs/pool/apply"
	pooldown "github.com/stix-run/stix/internal/cli/cmd/jobs/pool/down"
	poollogs "github.com/stix-run/stix/internal/cli/cmd/jobs/pool/logs"
	poolstatus "github.com/stix-run/stix/internal/cli/cmd/jobs/pool/status"
	"github.com/stix-run/stix/internal/cli/fakeclient"
)

var (
	buildPoolApply  = func(f *cli.Factory) *cobra.Command { return poolapply.NewCmdApply(f, nil) }
	buildPoolStatus = func(f *cli.Factory) *cobra.Command { return poolstatus.NewCmdStatus(f, nil) }
	buildPoolDown   = func(f *cli.Factory) *cobra.Command { return pooldown.NewCmdDown(f, nil) }
	buildPoolLogs   = func(f *cli.Factory) *cobra.Command { return poollogs.NewCmdLogs(f, nil) }
)

// pools is a controller's answer: gpus READY with one worker running job 7 and one provisioning.
func pools(names []string) ([]api.Pool, error) {
	ready := launchedAt
	all := []api.Pool{{Name: "gpus", Version: 1, CreatedAt: now.Add(-time.Hour), Status: api.PoolReady, Workers: 2, ReadyWorkers: 1,
		Resources: "1x[cpus=2+]", WorkerList: []api.Worker{
			{ID: 1, Version: 1, Cluster: "gpus-1", Status: api.WorkerReady, Infra: "Local", LaunchedAt: &ready, JobID: 7},
			{ID: 2, Version: 1, Cluster: "gpus-2", Status: api.WorkerProvisioning}}}}
	if len(names) == 0 {
		return all, nil
	}
	for _, n := range names {
		if n != "gpus" {
			return nil, &api.PoolNotFoundError{Name: n}
		}
	}
	return all, nil
}

func poolVerbCases() []verbCase {
	status := func() *fakeclient.Client { return &fakeclient.Client{PoolStatusFunc: pools} }
	applied := func() *fakeclient.Client {
		return &fakeclient.Client{ValidateFunc: validTask, PoolApplyFunc: func(r api.PoolApplyRequest) (api.PoolApplyResult, error) {
			if r.Task == nil && r.Name != "gpus" {
				return api.PoolApplyResult{}, &api.PoolNotFoundError{Name: r.Name}
			}
			return api.PoolApplyResult{Name: r.Name, Version: 1, Created: r.Task != nil}, nil
		}}
	}
	return []verbCase{
		{name: "pool-apply", build: buildPoolApply, args: []string{"-y", "-p", "gpus", "testdata/pool.yaml"}, fake: applied,
			calls: "Validate PoolApply",
			check: func(t *testing.T, c *fakeclient.Client) {
				if req := c.Last("PoolApply")[0].(api.PoolApplyRequest); req.Name != "gpus" || req.Task == nil || !strings.Contains(req.Task.YAML, "pool:") || req.Workers != nil {
					t.Errorf("apply request = %+v", req)
				}
			}},
		{name: "pool-apply-resize", build: buildPoolApply, args: []string{"-y", "-p", "gpus", "--workers", "5"}, fake: applied,
			calls: "PoolApply",
			check: func(t *testing.T, c *fakeclient.Client) {
				if req := c.Last("PoolApply")[0].(api.PoolApplyRequest); req.Task != nil || req.Workers == nil || *req.Workers != 5 {
					t.Errorf("resize request = %+v", req)
				}
			}},
		{name: "pool-apply-resize-unknown", build: buildPoolApply, args: []string{"-y", "-p", "nope", "--workers", "2"}, fake: applied, calls: "PoolApply"},
		{name: "pool-apply-no-yaml", build: buildPoolApply, args: []string{"-y", "-p", "gpus"}, fake: applied, calls: ""},
		{name: "pool-apply-zero-workers", build: buildPoolApply, args: []string{"-y", "-p", "gpus", "--workers", "0"}, fake: applied, calls: ""},
		{name: "pool-status", build: buildPoolStatus, fake: status, calls: "PoolStatus"},
		{name: "pool-status-verbose", build: buildPoolStatus, args: []string{"-v", "gpus"}, fake: status, calls: "PoolStatus"},
		{name: "pool-status-unknown", build: buildPoolStatus, args: []string{"nope"}, fake: status, calls: "PoolStatus"},
		{name: "pool-down", build: buildPoolDown, args: []string{"-y", "gpus"},
			fake: func() *fakeclient.Client {
				return &fakeclient.Client{PoolDownFunc: func(r api.PoolDownRequest) ([]string, error) { return r.Names, nil }}
			},
			calls: "PoolDown"},
		{name: "pool-down-nothing", build: buildPoolDown, args: []string{"-y"}, fake: status, calls: ""},
		{name: "pool-logs-worker", build: buildPoolLogs, args: []string{"--no-follow", "gpus", "2"},
			fake: func() *fakeclient.Client {
				return &fakeclient.Client{PoolLogsFunc: func(name string, o api.PoolLogsOptions, w io.Writer) error {
					if name != "gpus" || o.WorkerID != 2 || o.Controller || o.Follow {
						return fmt.Errorf("asked %s %+v", name, o)
					}
					_, err := io.WriteString(w, "setup on gpus-2\n")
					return err
				}}
			},
			calls: "PoolLogs"},
		{name: "pool-logs-nothing", build: buildPoolLogs, args: []string{"gpus"}, fake: status, calls: ""},
		{name: "jobs-cancel-pool", build: buildJobsCancel, args: []string{"-y", "-p", "gpus"}, fake: func() *fakeclient.Client {
			return &fakeclient.Client{JobsCancelFunc: func(r api.JobsCancelRequest) ([]api.JobsCancelOutcome, error) {
				if r.Pool != "gpus" {
					return nil, fmt.Errorf("request %+v", r)
				}
				return []api.JobsCancelOutcome{{ID: 7, Status: api.ManagedCancelling}, {ID: 8, Status: api.ManagedCancelling}}, nil
			}}
		}, calls: "JobsCancel"},
	}
}

// TestPoolVerbsAgainstAFakeClient pins what the pool verbs ask the controller and how they print its answers.
func TestPoolVerbsAgainstAFakeClient(t *testing.T) {
	t.Parallel()
	for _, vc := range poolVerbCases() {
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
