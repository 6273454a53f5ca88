package server_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/cli/fakeclient"
)

// The pool routes carry apply, status and down between the HTTP client and the controller: apply and down are
// requests, status a read, and an unknown pool comes back as the typed PoolNotFoundError.
func TestPoolRoutes(t *testing.T) {
	t.Parallel()
	var applied api.PoolApplyRequest
	var downed api.PoolDownRequest
	core := &fakeclient.Client{
		PoolApplyFunc: func(r api.PoolApplyRequest) (api.PoolApplyResult, error) {
			applied = r
			return api.PoolApplyResult{Name: r.Name, Version: 1, Created: true}, nil
		},
		PoolStatusFunc: func(names []string) ([]api.Pool, error) {
			if len(names) == 1 && names[0] == "nope" {
				return nil, &api.PoolNotFoundError{Name: "nope"}
			}
			return []api.Pool{{Name: "gpus", Status: api.PoolReady, Workers: 2, ReadyWorkers: 2,
				WorkerList: []api.Worker{{ID: 1, Status: api.WorkerReady, JobID: 4}, {ID: 2, Status: api.WorkerReady}}}}, nil
		},
		PoolDownFunc: func(r api.PoolDownRequest) ([]string, error) {
			downed = r
			return r.Names, nil
		},
		PoolLogsFunc: func(name string, o api.PoolLogsOptions, w io.Writer) error {
			if name != "gpus" || !o.Controller || o.Tail != 5 {
				return &api.PoolNotFoundError{Name: name}
			}
			_, err := io.WriteString(w, "worker 1: READY on Local\n")
			return err
		},
	}
	c, _ := serveJobs(t, core, auth.RoleUser)
	ctx := context.Background()
	workers := 3
	res, err := api.Wait(c.PoolApply(ctx, api.PoolApplyRequest{Name: "gpus", Workers: &workers,
		Task: &api.TaskSpec{YAML: "pool:\n  workers: 2\n", FileName: "pool.yaml"}}))
	if err != nil || res.Name != "gpus" || !res.Created {
		t.Fatalf("apply: %+v %v", res, err)
	}
	if applied.Name != "gpus" || applied.Workers == nil || *applied.Workers != 3 || applied.Task == nil || applied.Task.YAML != "pool:\n  workers: 2\n" {
		t.Errorf("the controller got %+v", applied)
	}
	ps, err := c.PoolStatus(ctx, nil)
	if err != nil || len(ps) != 1 || ps[0].WorkerList[0].JobID != 4 || ps[0].ReadyWorkers != 2 {
		t.Errorf("status: %+v %v", ps, err)
	}
	var nf *api.PoolNotFoundError
	if _, err := c.PoolStatus(ctx, []string{"nope"}); !errors.As(err, &nf) || nf.Name != "nope" {
		t.Errorf("status of an unknown pool: %v", err)
	}
	var logs strings.Builder
	if err := c.PoolLogs(ctx, "gpus", api.PoolLogsOptions{Controller: true, Tail: 5}, &logs); err != nil || logs.String() != "worker 1: READY on Local\n" {
		t.Errorf("logs %q, %v", logs.String(), err)
	}
	if err := c.PoolLogs(ctx, "nope", api.PoolLogsOptions{Controller: true, Tail: 5}, &logs); !errors.As(err, &nf) {
		t.Errorf("logs of an unknown pool: %v", err)
	}
	names, err := api.Wait(c.PoolDown(ctx, api.PoolDownRequest{Names: []string{"gpus"}}))
	if err != nil || len(names) != 1 || downed.Names[0] != "gpus" {
		t.Errorf("down: %v %v (controller got %+v)", names, err, downed)
	}
}
