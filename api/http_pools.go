package api

import (
	"context"
	"net/http"
	"net/url"
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
