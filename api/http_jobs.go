package api

import (
	"context"
	"io"
)

// JobsLaunch submits a managed job to the server.
func (c *HTTPClient) JobsLaunch(ctx context.Context, req JobsLaunchRequest) (*Operation[JobsLaunchResult], error) {
	return nil, &NeedsServerError{What: "managed jobs (not wired over HTTP yet)"}
}

// JobsQueue lists the server's managed jobs.
func (c *HTTPClient) JobsQueue(ctx context.Context, opts JobsQueueOptions) ([]ManagedJob, error) {
	return nil, &NeedsServerError{What: "managed jobs (not wired over HTTP yet)"}
}

// JobsCancel cancels managed jobs on the server.
func (c *HTTPClient) JobsCancel(ctx context.Context, req JobsCancelRequest) (*Operation[[]JobsCancelOutcome], error) {
	return nil, &NeedsServerError{What: "managed jobs (not wired over HTTP yet)"}
}

// JobsLogs streams a managed job's logs from the server.
func (c *HTTPClient) JobsLogs(ctx context.Context, id int64, opts JobsLogsOptions, w io.Writer) ([]ManagedJob, error) {
	return nil, &NeedsServerError{What: "managed jobs (not wired over HTTP yet)"}
}
