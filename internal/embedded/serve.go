package embedded

import (
	"context"
	"io"

	"github.com/stix-run/stix/api"
)

// needsServeServer is the embedded core's answer to `stix serve` calls: their controller runs in the API server.
var needsServeServer = &api.NeedsServerError{What: "services"}

// ServeUp is answered by an API server.
func (c *Client) ServeUp(ctx context.Context, req api.ServeUpRequest) (*api.Operation[api.ServeUpResult], error) {
	return nil, needsServeServer
}

// ServeUpdate is answered by an API server.
func (c *Client) ServeUpdate(ctx context.Context, req api.ServeUpdateRequest) (*api.Operation[api.ServeUpdateResult], error) {
	return nil, needsServeServer
}

// ServeStatus is answered by an API server.
func (c *Client) ServeStatus(ctx context.Context, names []string) ([]api.Service, error) {
	return nil, needsServeServer
}

// ServeDown is answered by an API server.
func (c *Client) ServeDown(ctx context.Context, req api.ServeDownRequest) (*api.Operation[[]api.ServeDownOutcome], error) {
	return nil, needsServeServer
}

// ServeLogs is answered by an API server.
func (c *Client) ServeLogs(ctx context.Context, name string, opts api.ServeLogsOptions, w io.Writer) error {
	return needsServeServer
}
