package api

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// The `stix jobs pool` calls over HTTP (routes under /api/v1/jobs/pool, documented in api/openapi.yaml).

// PoolApply creates, updates or resizes a pool on the server; the request's result is the PoolApplyResult.
func (c *HTTPClient) PoolApply(ctx context.Context, req PoolApplyRequest) (*Operation[PoolApplyResult], error) {
	if req.Task != nil {
		t, err := clientTask(*req.Task)
		if err != nil {
			return nil, err
		}
		req.Task = &t
	}
	return submit[PoolApplyResult](ctx, c, "/api/v1/jobs/pool/apply", req)
}

// PoolStatus lists the server's pools (all when names is empty).
func (c *HTTPClient) PoolStatus(ctx context.Context, names []string) ([]Pool, error) {
	q := url.Values{}
	for _, n := range names {
		q.Add("pool_name", n)
	}
	var out []Pool
	return out, c.call(ctx, http.MethodGet, "/api/v1/jobs/pool", q, nil, &out)
}

// PoolDown deletes pools on the server; the request's result names the pools scheduled to be deleted.
func (c *HTTPClient) PoolDown(ctx context.Context, req PoolDownRequest) (*Operation[[]string], error) {
	return submit[[]string](ctx, c, "/api/v1/jobs/pool/down", req)
}

// PoolLogs copies a pool's streamed log (its controller's, or a worker's setup output) into w, resuming after
// a dropped connection.
func (c *HTTPClient) PoolLogs(ctx context.Context, name string, opts PoolLogsOptions, w io.Writer) error {
	q := url.Values{"follow": {strconv.FormatBool(opts.Follow)}}
	if opts.Controller {
		q.Set("controller", "true")
	}
	if opts.WorkerID > 0 {
		q.Set("worker_id", strconv.Itoa(opts.WorkerID))
	}
	if opts.Tail > 0 {
		q.Set("tail", strconv.Itoa(opts.Tail))
	}
	_, err := c.followLog(ctx, "/api/v1/jobs/pool/"+url.PathEscape(name)+"/logs", q, w)
	return err
}
