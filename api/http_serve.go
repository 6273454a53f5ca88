package api

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// The `stix serve` calls over HTTP (routes under /api/v1/serve, documented in api/openapi.yaml).

// ServeUp starts a service on the server; the request's result is the ServeUpResult.
func (c *HTTPClient) ServeUp(ctx context.Context, req ServeUpRequest) (*Operation[ServeUpResult], error) {
	var err error
	if req.Task, err = clientTask(req.Task); err != nil {
		return nil, err
	}
	return submit[ServeUpResult](ctx, c, "/api/v1/serve/up", req)
}

// ServeUpdate updates a service on the server.
func (c *HTTPClient) ServeUpdate(ctx context.Context, req ServeUpdateRequest) (*Operation[ServeUpdateResult], error) {
	var err error
	if req.Task, err = clientTask(req.Task); err != nil {
		return nil, err
	}
	return submit[ServeUpdateResult](ctx, c, "/api/v1/serve/update", req)
}

// ServeStatus lists the server's services (all the caller's when names is empty; every user's when ctx carries
// WithAllUsers).
func (c *HTTPClient) ServeStatus(ctx context.Context, names []string) ([]Service, error) {
	q := url.Values{}
	for _, n := range names {
		q.Add("service_name", n)
	}
	if AllUsers(ctx) {
		q.Set("all_users", "true")
	}
	var out []Service
	return out, c.call(ctx, http.MethodGet, "/api/v1/serve", q, nil, &out)
}

// ServeDown tears services down on the server (with All, every user's when ctx carries WithAllUsers); the
// request's result is one outcome per service.
func (c *HTTPClient) ServeDown(ctx context.Context, req ServeDownRequest) (*Operation[[]ServeDownOutcome], error) {
	path := "/api/v1/serve/down"
	if AllUsers(ctx) {
		path += "?all_users=true"
	}
	return submit[[]ServeDownOutcome](ctx, c, path, req)
}

// ServeLogs copies a service's streamed log into w, resuming after a dropped connection.
func (c *HTTPClient) ServeLogs(ctx context.Context, name string, opts ServeLogsOptions, w io.Writer) error {
	q := url.Values{"follow": {strconv.FormatBool(opts.Follow)}}
	if opts.ReplicaID > 0 {
		q.Set("replica_id", strconv.Itoa(opts.ReplicaID))
	}
	if opts.Controller {
		q.Set("controller", "true")
	}
	if opts.LoadBalancer {
		q.Set("load_balancer", "true")
	}
	if opts.Tail > 0 {
		q.Set("tail", strconv.Itoa(opts.Tail))
	}
	_, err := c.followLog(ctx, "/api/v1/serve/"+url.PathEscape(name)+"/logs", q, w)
	return err
}
