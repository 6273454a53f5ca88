package embedded

import (
	"context"
	"io"

	"github.com/stix-run/stix/api"
)

// needsServer is the embedded core's answer to managed-jobs calls: their controller runs in the API server.
var needsServer = &api.NeedsServerError{What: "managed jobs"}

// JobsLaunch is answered by an API server.
func (c *Client) JobsLaunch(ctx context.Context, req api.JobsLaunchRequest) (*api.Operation[api.JobsLaunchResult], error) {
	return nil, needsServer
}

// JobsQueue is answered by an API server.
func (c *Client) JobsQueue(ctx context.Context, opts api.JobsQueueOptions) ([]api.ManagedJob, error) {
	return nil, needsServer
}

// JobsCancel is answered by an API server.
func (c *Client) JobsCancel(ctx context.Context, req api.JobsCancelRequest) (*api.Operation[[]api.JobsCancelOutcome], error) {
	return nil, needsServer
}

// JobsLogs is answered by an API server.
func (c *Client) JobsLogs(ctx context.Context, id int64, opts api.JobsLogsOptions, w io.Writer) ([]api.ManagedJob, error) {
	return nil, needsServer
}

// needsServerPools is the embedded core's answer to pool calls: pools are run by the managed-jobs controller.
var needsServerPools = &api.NeedsServerError{What: "pools of managed jobs"}

// PoolApply is answered by an API server.
func (c *Client) PoolApply(ctx context.Context, req api.PoolApplyRequest) (*api.Operation[api.PoolApplyResult], error) {
	return nil, needsServerPools
}

// PoolStatus is answered by an API server.
func (c *Client) PoolStatus(ctx context.Context, names []string) ([]api.Pool, error) {
	return nil, needsServerPools
}

// PoolDown is answered by an API server.
func (c *Client) PoolDown(ctx context.Context, req api.PoolDownRequest) (*api.Operation[[]string], error) {
	return nil, needsServerPools
}

// PoolLogs is answered by an API server.
func (c *Client) PoolLogs(ctx context.Context, name string, opts api.PoolLogsOptions, w io.Writer) error {
	return needsServerPools
}
