// Package fakeclient is a fake api.Client for command tests, as the GitHub CLI's tests fake its API: a test sets
// the answers of the calls it expects, and the fake records every call with its arguments. A call the test did
// not set fails with an error naming it, so a command that reaches further than the test expects is caught.
package fakeclient

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/stix-run/stix/api"
)

// Call is one recorded call: the method and its arguments after the context.
type Call struct {
	Method string
	Args   []any
}

// Client is a fake api.Client. Set the fields for the calls a test expects; each *Events field lists the events
// an operation reports before it ends with the matching result.
type Client struct {
	ValidateFunc func(api.TaskSpec) (*api.TaskCheck, error)
	PlanFunc     func(api.TaskSpec) (*api.Plan, error)

	LaunchEvents []api.Event
	LaunchFunc   func(api.LaunchRequest) (api.LaunchResult, error)
	ExecEvents   []api.Event
	ExecFunc     func(api.ExecRequest) (api.LaunchResult, error)

	StatusFunc    func(names []string, refresh bool) ([]api.Cluster, error)
	MatchFunc     func(patterns []string, all bool) ([]string, error)
	QueueFunc     func(cluster string, skipFinished bool) ([]api.Job, error)
	JobFunc       func(cluster string, id int) (api.Job, error)
	LogsFunc      func(cluster string, id int, opts api.LogsOptions, w io.Writer) (api.Job, error)
	EndpointsFunc func(cluster string, port int) (map[int]string, error)
	NodesFunc     func(cluster string) ([]api.ClusterNode, error)
	// WatchFunc returns the events a WatchCluster sends before its channel closes.
	WatchFunc      func(cluster string) ([]api.ClusterEvent, error)
	CancelFunc     func(cluster string, ids []int, all bool) ([]api.CancelOutcome, error)
	StopFunc       func(cluster string) error
	StartEvents    []api.Event
	StartFunc      func(cluster string) error
	DownFunc       func(cluster string, purge bool) error
	AutostopFunc   func(cluster string, opts api.AutostopOptions) error
	CostReportFunc func() ([]api.CostReportEntry, error)

	CheckFunc        func(infra []string, verify bool) (api.CheckResult, error)
	AcceleratorsFunc func(api.GPUQuery) ([]api.AcceleratorCounts, error)
	OffersFunc       func(api.GPUQuery) ([]api.Offer, error)
	SSHEvents        []api.Event
	SSHUpFunc        func(api.SSHPoolRequest) ([]api.SSHHostResult, error)
	SSHDownFunc      func(api.SSHPoolRequest) ([]api.SSHHostResult, error)

	JobsLaunchEvents []api.Event
	JobsLaunchFunc   func(api.JobsLaunchRequest) (api.JobsLaunchResult, error)
	JobsQueueFunc    func(api.JobsQueueOptions) ([]api.ManagedJob, error)
	JobsCancelFunc   func(api.JobsCancelRequest) ([]api.JobsCancelOutcome, error)
	JobsLogsFunc     func(id int64, opts api.JobsLogsOptions, w io.Writer) ([]api.ManagedJob, error)

	ServeUpFunc     func(api.ServeUpRequest) (api.ServeUpResult, error)
	ServeUpdateFunc func(api.ServeUpdateRequest) (api.ServeUpdateResult, error)
	ServeStatusFunc func(names []string) ([]api.Service, error)
	ServeDownFunc   func(api.ServeDownRequest) ([]api.ServeDownOutcome, error)
	ServeLogsFunc   func(name string, opts api.ServeLogsOptions, w io.Writer) error

	PoolApplyFunc  func(api.PoolApplyRequest) (api.PoolApplyResult, error)
	PoolStatusFunc func(names []string) ([]api.Pool, error)
	PoolDownFunc   func(api.PoolDownRequest) ([]string, error)
	PoolLogsFunc   func(name string, opts api.PoolLogsOptions, w io.Writer) error

	StorageListFunc   func() ([]api.Storage, error)
	StorageDeleteFunc func(api.StorageDeleteRequest) ([]api.StorageDeleteOutcome, error)

	mu    sync.Mutex
	calls []Call
}

var _ api.Client = (*Client)(nil)

// Calls returns the calls made so far, in order.
func (c *Client) Calls() []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Call(nil), c.calls...)
}

// Methods returns the methods called so far, in order, joined with spaces: "Validate Launch Logs".
func (c *Client) Methods() string {
	var m []string
	for _, call := range c.Calls() {
		m = append(m, call.Method)
	}
	return strings.Join(m, " ")
}

// Last returns the arguments of the last call of method, or nil when it was not called.
func (c *Client) Last(method string) []any {
	calls := c.Calls()
	for i := len(calls) - 1; i >= 0; i-- {
		if calls[i].Method == method {
			return calls[i].Args
		}
	}
	return nil
}

func (c *Client) record(method string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, Call{method, args})
}

// NotFaked is the error of a call the test did not set.
type NotFaked struct{ Method string }

func (e *NotFaked) Error() string {
	return fmt.Sprintf("fakeclient: %s was called but the test did not set it", e.Method)
}

// operation reports events and ends with what run returns.
func operation[T any](ctx context.Context, events []api.Event, run func() (T, error)) *api.Operation[T] {
	return api.Go(ctx, "fake-request", func(_ context.Context, emit func(api.Event)) (T, error) {
		for _, e := range events {
			emit(e)
		}
		return run()
	})
}

// done is operation for a call that returns only its outcome.
func done(ctx context.Context, events []api.Event, run func() error) *api.Operation[api.Done] {
	return operation(ctx, events, func() (api.Done, error) { return api.Done{}, run() })
}

func (c *Client) Validate(_ context.Context, ts api.TaskSpec) (*api.TaskCheck, error) {
	c.record("Validate", ts)
	if c.ValidateFunc == nil {
		return nil, &NotFaked{"Validate"}
	}
	return c.ValidateFunc(ts)
}

func (c *Client) Plan(_ context.Context, ts api.TaskSpec) (*api.Plan, error) {
	c.record("Plan", ts)
	if c.PlanFunc == nil {
		return nil, &NotFaked{"Plan"}
	}
	return c.PlanFunc(ts)
}

func (c *Client) Launch(ctx context.Context, req api.LaunchRequest) (*api.Operation[api.LaunchResult], error) {
	c.record("Launch", req)
	if c.LaunchFunc == nil {
		return nil, &NotFaked{"Launch"}
	}
	return operation(ctx, c.LaunchEvents, func() (api.LaunchResult, error) { return c.LaunchFunc(req) }), nil
}

func (c *Client) Exec(ctx context.Context, req api.ExecRequest) (*api.Operation[api.LaunchResult], error) {
	c.record("Exec", req)
	if c.ExecFunc == nil {
		return nil, &NotFaked{"Exec"}
	}
	return operation(ctx, c.ExecEvents, func() (api.LaunchResult, error) { return c.ExecFunc(req) }), nil
}

func (c *Client) Status(_ context.Context, names []string, refresh bool) ([]api.Cluster, error) {
	c.record("Status", names, refresh)
	if c.StatusFunc == nil {
		return nil, &NotFaked{"Status"}
	}
	return c.StatusFunc(names, refresh)
}

func (c *Client) Match(_ context.Context, patterns []string, all bool) ([]string, error) {
	c.record("Match", patterns, all)
	if c.MatchFunc == nil {
		return nil, &NotFaked{"Match"}
	}
	return c.MatchFunc(patterns, all)
}

func (c *Client) Queue(_ context.Context, cluster string, skipFinished bool) ([]api.Job, error) {
	c.record("Queue", cluster, skipFinished)
	if c.QueueFunc == nil {
		return nil, &NotFaked{"Queue"}
	}
	return c.QueueFunc(cluster, skipFinished)
}

func (c *Client) Job(_ context.Context, cluster string, id int) (api.Job, error) {
	c.record("Job", cluster, id)
	if c.JobFunc == nil {
		return api.Job{}, &NotFaked{"Job"}
	}
	return c.JobFunc(cluster, id)
}

func (c *Client) Logs(_ context.Context, cluster string, id int, opts api.LogsOptions, w io.Writer) (api.Job, error) {
	c.record("Logs", cluster, id, opts)
	if c.LogsFunc == nil {
		return api.Job{}, &NotFaked{"Logs"}
	}
	return c.LogsFunc(cluster, id, opts, w)
}

func (c *Client) Endpoints(_ context.Context, cluster string, port int) (map[int]string, error) {
	c.record("Endpoints", cluster, port)
	if c.EndpointsFunc == nil {
		return nil, &NotFaked{"Endpoints"}
	}
	return c.EndpointsFunc(cluster, port)
}

func (c *Client) Nodes(_ context.Context, cluster string) ([]api.ClusterNode, error) {
	c.record("Nodes", cluster)
	if c.NodesFunc == nil {
		return nil, &NotFaked{"Nodes"}
	}
	return c.NodesFunc(cluster)
}

func (c *Client) WatchCluster(_ context.Context, cluster string) (<-chan api.ClusterEvent, error) {
	c.record("WatchCluster", cluster)
	if c.WatchFunc == nil {
		return nil, &NotFaked{"WatchCluster"}
	}
	evs, err := c.WatchFunc(cluster)
	if err != nil {
		return nil, err
	}
	out := make(chan api.ClusterEvent, len(evs))
	for _, ev := range evs {
		out <- ev
	}
	close(out)
	return out, nil
}

func (c *Client) Cancel(ctx context.Context, cluster string, ids []int, all bool) (*api.Operation[[]api.CancelOutcome], error) {
	c.record("Cancel", cluster, ids, all)
	if c.CancelFunc == nil {
		return nil, &NotFaked{"Cancel"}
	}
	return operation(ctx, nil, func() ([]api.CancelOutcome, error) { return c.CancelFunc(cluster, ids, all) }), nil
}

func (c *Client) Stop(ctx context.Context, cluster string) (*api.Operation[api.Done], error) {
	c.record("Stop", cluster)
	if c.StopFunc == nil {
		return nil, &NotFaked{"Stop"}
	}
	return done(ctx, nil, func() error { return c.StopFunc(cluster) }), nil
}

func (c *Client) Start(ctx context.Context, cluster string) (*api.Operation[api.Done], error) {
	c.record("Start", cluster)
	if c.StartFunc == nil {
		return nil, &NotFaked{"Start"}
	}
	return done(ctx, c.StartEvents, func() error { return c.StartFunc(cluster) }), nil
}

func (c *Client) Down(ctx context.Context, cluster string, purge bool) (*api.Operation[api.Done], error) {
	c.record("Down", cluster, purge)
	if c.DownFunc == nil {
		return nil, &NotFaked{"Down"}
	}
	return done(ctx, nil, func() error { return c.DownFunc(cluster, purge) }), nil
}

func (c *Client) Autostop(ctx context.Context, cluster string, opts api.AutostopOptions) (*api.Operation[api.Done], error) {
	c.record("Autostop", cluster, opts)
	if c.AutostopFunc == nil {
		return nil, &NotFaked{"Autostop"}
	}
	return done(ctx, nil, func() error { return c.AutostopFunc(cluster, opts) }), nil
}

func (c *Client) CostReport(context.Context) ([]api.CostReportEntry, error) {
	c.record("CostReport")
	if c.CostReportFunc == nil {
		return nil, &NotFaked{"CostReport"}
	}
	return c.CostReportFunc()
}

func (c *Client) Check(ctx context.Context, infra []string, verify bool) (*api.Operation[api.CheckResult], error) {
	c.record("Check", infra, verify)
	if c.CheckFunc == nil {
		return nil, &NotFaked{"Check"}
	}
	return operation(ctx, nil, func() (api.CheckResult, error) { return c.CheckFunc(infra, verify) }), nil
}

func (c *Client) Accelerators(_ context.Context, q api.GPUQuery) ([]api.AcceleratorCounts, error) {
	c.record("Accelerators", q)
	if c.AcceleratorsFunc == nil {
		return nil, &NotFaked{"Accelerators"}
	}
	return c.AcceleratorsFunc(q)
}

func (c *Client) Offers(_ context.Context, q api.GPUQuery) ([]api.Offer, error) {
	c.record("Offers", q)
	if c.OffersFunc == nil {
		return nil, &NotFaked{"Offers"}
	}
	return c.OffersFunc(q)
}

func (c *Client) SSHUp(ctx context.Context, req api.SSHPoolRequest) (*api.Operation[[]api.SSHHostResult], error) {
	c.record("SSHUp", req)
	if c.SSHUpFunc == nil {
		return nil, &NotFaked{"SSHUp"}
	}
	return operation(ctx, c.SSHEvents, func() ([]api.SSHHostResult, error) { return c.SSHUpFunc(req) }), nil
}

func (c *Client) SSHDown(ctx context.Context, req api.SSHPoolRequest) (*api.Operation[[]api.SSHHostResult], error) {
	c.record("SSHDown", req)
	if c.SSHDownFunc == nil {
		return nil, &NotFaked{"SSHDown"}
	}
	return operation(ctx, c.SSHEvents, func() ([]api.SSHHostResult, error) { return c.SSHDownFunc(req) }), nil
}

func (c *Client) JobsLaunch(ctx context.Context, req api.JobsLaunchRequest) (*api.Operation[api.JobsLaunchResult], error) {
	c.record("JobsLaunch", req)
	if c.JobsLaunchFunc == nil {
		return nil, &NotFaked{"JobsLaunch"}
	}
	return operation(ctx, c.JobsLaunchEvents, func() (api.JobsLaunchResult, error) { return c.JobsLaunchFunc(req) }), nil
}

func (c *Client) JobsQueue(_ context.Context, opts api.JobsQueueOptions) ([]api.ManagedJob, error) {
	c.record("JobsQueue", opts)
	if c.JobsQueueFunc == nil {
		return nil, &NotFaked{"JobsQueue"}
	}
	return c.JobsQueueFunc(opts)
}

func (c *Client) JobsCancel(ctx context.Context, req api.JobsCancelRequest) (*api.Operation[[]api.JobsCancelOutcome], error) {
	c.record("JobsCancel", req)
	if c.JobsCancelFunc == nil {
		return nil, &NotFaked{"JobsCancel"}
	}
	return operation(ctx, nil, func() ([]api.JobsCancelOutcome, error) { return c.JobsCancelFunc(req) }), nil
}

func (c *Client) JobsLogs(_ context.Context, id int64, opts api.JobsLogsOptions, w io.Writer) ([]api.ManagedJob, error) {
	c.record("JobsLogs", id, opts)
	if c.JobsLogsFunc == nil {
		return nil, &NotFaked{"JobsLogs"}
	}
	return c.JobsLogsFunc(id, opts, w)
}

// Close does nothing.
func (c *Client) Close() error { return nil }

func (c *Client) ServeUp(ctx context.Context, req api.ServeUpRequest) (*api.Operation[api.ServeUpResult], error) {
	c.record("ServeUp", req)
	if c.ServeUpFunc == nil {
		return nil, &NotFaked{"ServeUp"}
	}
	return operation(ctx, nil, func() (api.ServeUpResult, error) { return c.ServeUpFunc(req) }), nil
}

func (c *Client) ServeUpdate(ctx context.Context, req api.ServeUpdateRequest) (*api.Operation[api.ServeUpdateResult], error) {
	c.record("ServeUpdate", req)
	if c.ServeUpdateFunc == nil {
		return nil, &NotFaked{"ServeUpdate"}
	}
	return operation(ctx, nil, func() (api.ServeUpdateResult, error) { return c.ServeUpdateFunc(req) }), nil
}

func (c *Client) ServeStatus(_ context.Context, names []string) ([]api.Service, error) {
	c.record("ServeStatus", names)
	if c.ServeStatusFunc == nil {
		return nil, &NotFaked{"ServeStatus"}
	}
	return c.ServeStatusFunc(names)
}

func (c *Client) ServeDown(ctx context.Context, req api.ServeDownRequest) (*api.Operation[[]api.ServeDownOutcome], error) {
	c.record("ServeDown", req)
	if c.ServeDownFunc == nil {
		return nil, &NotFaked{"ServeDown"}
	}
	return operation(ctx, nil, func() ([]api.ServeDownOutcome, error) { return c.ServeDownFunc(req) }), nil
}

func (c *Client) ServeLogs(_ context.Context, name string, opts api.ServeLogsOptions, w io.Writer) error {
	c.record("ServeLogs", name, opts)
	if c.ServeLogsFunc == nil {
		return &NotFaked{"ServeLogs"}
	}
	return c.ServeLogsFunc(name, opts, w)
}

func (c *Client) PoolApply(ctx context.Context, req api.PoolApplyRequest) (*api.Operation[api.PoolApplyResult], error) {
	c.record("PoolApply", req)
	if c.PoolApplyFunc == nil {
		return nil, &NotFaked{"PoolApply"}
	}
	return operation(ctx, nil, func() (api.PoolApplyResult, error) { return c.PoolApplyFunc(req) }), nil
}

func (c *Client) PoolStatus(_ context.Context, names []string) ([]api.Pool, error) {
	c.record("PoolStatus", names)
	if c.PoolStatusFunc == nil {
		return nil, &NotFaked{"PoolStatus"}
	}
	return c.PoolStatusFunc(names)
}

func (c *Client) PoolDown(ctx context.Context, req api.PoolDownRequest) (*api.Operation[[]string], error) {
	c.record("PoolDown", req)
	if c.PoolDownFunc == nil {
		return nil, &NotFaked{"PoolDown"}
	}
	return operation(ctx, nil, func() ([]string, error) { return c.PoolDownFunc(req) }), nil
}

func (c *Client) PoolLogs(_ context.Context, name string, opts api.PoolLogsOptions, w io.Writer) error {
	c.record("PoolLogs", name, opts)
	if c.PoolLogsFunc == nil {
		return &NotFaked{"PoolLogs"}
	}
	return c.PoolLogsFunc(name, opts, w)
}

func (c *Client) StorageList(context.Context) ([]api.Storage, error) {
	c.record("StorageList")
	if c.StorageListFunc == nil {
		return nil, &NotFaked{"StorageList"}
	}
	return c.StorageListFunc()
}

func (c *Client) StorageDelete(ctx context.Context, req api.StorageDeleteRequest) (*api.Operation[[]api.StorageDeleteOutcome], error) {
	c.record("StorageDelete", req)
	if c.StorageDeleteFunc == nil {
		return nil, &NotFaked{"StorageDelete"}
	}
	return operation(ctx, nil, func() ([]api.StorageDeleteOutcome, error) { return c.StorageDeleteFunc(req) }), nil
}
