package stixcmd

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/server"
)

// controllerClient returns Factory.ControllerClient, made on first use: the CLI's client (client) when an
// endpoint is configured; else the HTTP client of this machine's API server over STIX_HOME, started in the
// background when none runs, as SkyPilot's CLI starts its local server. Managed jobs need it: their controller
// lives in the server process, and outlives the command. Other verbs stay embedded.
func (s serverControl) controllerClient(client func() (api.Client, error), errOut io.Writer) func() (api.Client, error) {
	var (
		once sync.Once
		c    api.Client
		err  error
	)
	return func() (api.Client, error) {
		once.Do(func() { c, err = s.localServerClient(client, errOut) })
		return c, err
	}
}

func (s serverControl) localServerClient(client func() (api.Client, error), errOut io.Writer) (api.Client, error) {
	e, _, _, err := s.endpoint()
	if err != nil {
		return nil, err
	}
	if e != "" {
		return client()
	}
	// A free port rather than SkyPilot's 46580: the CLI finds the server through STIX_HOME/server/endpoint, and
	// two STIX_HOMEs (two users of a machine, tests) each get their own server without a clash.
	l, already, err := s.Daemon(context.Background(), cli.ServerRun{Host: "127.0.0.1", Port: 0})
	if err != nil {
		return nil, fmt.Errorf("managed jobs run in an API server, and the local one did not start: %w", err)
	}
	if !already {
		fmt.Fprintf(errOut, "Started the local API server at %s (pid %d): managed jobs run in its controller. "+
			"`stix api stop` stops it.\n", l.Endpoint, l.PID)
	}
	return s.localClient(l)
}

// requestsClient returns Factory.RequestsClient: client when an endpoint is configured or no server runs on
// this machine, else the HTTP client of the server that runs (the one `stix jobs` started), so that `stix api
// status/logs/cancel` see the requests of `stix jobs`. It starts nothing.
func (s serverControl) requestsClient(client func() (api.Client, error)) func() (api.Client, error) {
	return func() (api.Client, error) {
		if e, _, _, err := s.endpoint(); err != nil || e != "" {
			return client()
		}
		dir, err := s.dir()
		if err != nil {
			return client()
		}
		l, ok := server.FindLocal(dir)
		if !ok {
			return client()
		}
		return s.localClient(cli.LocalServer(l))
	}
}

// localClient is the CLI's client of this machine's API server l.
func (s serverControl) localClient(l cli.LocalServer) (api.Client, error) {
	token := s.envToken()
	if token == "" {
		// A server of this machine that requires authentication wrote its first admin's token for its owner.
		if dir, err := s.dir(); err == nil {
			token, _ = server.ReadInitialToken(dir)
		}
	}
	return s.httpClient(l.Endpoint, token, "the local API server")
}

// httpClient is the CLI's client of the API server at endpoint (configured at src): it uploads a task's local
// directories before launching it.
func (s serverControl) httpClient(endpoint, token, src string) (api.Client, error) {
	c, err := api.NewHTTP(api.HTTPOptions{Endpoint: endpoint, Token: token, User: osUser()})
	if err != nil {
		return nil, fmt.Errorf("%w (from %s)", err, src)
	}
	return uploadingClient{HTTPClient: c, push: pushTree, bucketOf: s.bucketOf}, nil
}
