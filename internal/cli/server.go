package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/stix-run/stix/api"
)

// ServerRun are the settings of an API server run on this machine (`stix api start`).
type ServerRun struct {
	Host string
	Port int
	// TrustedNetwork allows a listen address beyond loopback without authentication.
	TrustedNetwork bool
	// LogFile is the file the server's output goes to (a daemon's), served by `stix api logs --server-logs`.
	LogFile string
}

// LocalServer is an API server running on this machine, as its pid and endpoint files say.
type LocalServer struct {
	PID      int
	Endpoint string
}

// ServerControl is what the `stix api` verbs need besides api.Client: the API server of this machine and the
// endpoint the CLI uses. stixcmd implements it (the server is a core package, which commands may not import).
type ServerControl interface {
	// Endpoint is the API server the CLI uses and where that was configured; "" when the core is embedded.
	Endpoint() (endpoint, source string, err error)
	// Run serves the API in this process until ctx ends or the process is signalled.
	Run(ctx context.Context, o ServerRun) error
	// Daemon starts the server in the background and returns once it answers; a server already running is
	// returned with already set.
	Daemon(ctx context.Context, o ServerRun) (s LocalServer, already bool, err error)
	// Stop stops the server of this machine; ok is false when none was running.
	Stop() (s LocalServer, ok bool, err error)
	// Login records endpoint (and token) as the CLI's API server; Logout forgets it (ok false: none recorded).
	Login(endpoint, token string) error
	Logout() (ok bool, err error)
}

// ErrNoServer is the error of a command that needs an API server when the CLI uses the embedded core.
var ErrNoServer = errors.New("no API server is configured: commands run in this process. Start one with " +
	"`stix api start` and point the CLI at it with `stix api login -e URL` or STIX_API_SERVER_ENDPOINT")

// ServerClient returns the CLI's client as the HTTP client of an API server, or ErrNoServer.
func ServerClient(client func() (api.Client, error)) (*api.HTTPClient, error) {
	c, err := client()
	if err != nil {
		return nil, err
	}
	if hc := serverOf(c); hc != nil {
		return hc, nil
	}
	return nil, ErrNoServer
}

// ServerBacked is a client that wraps an API server's HTTP client (e.g. to upload a task's directories first).
type ServerBacked interface {
	APIServer() *api.HTTPClient
}

// serverOf returns the API server's HTTP client behind c, or nil for the embedded core.
func serverOf(c api.Client) *api.HTTPClient {
	switch c := c.(type) {
	case *api.HTTPClient:
		return c
	case ServerBacked:
		return c.APIServer()
	}
	return nil
}

// CheckAsync refuses --async when the CLI has no API server: the embedded core runs a request in this process,
// which would end with the command. Call it before the call that starts the request.
func CheckAsync(async bool, client api.Client) error {
	if !async {
		return nil
	}
	if serverOf(client) == nil {
		return fmt.Errorf("--async needs an API server: %w", ErrNoServer)
	}
	return nil
}

// RequestID returns the ID of the request a call started, for --async (which does not wait for it), or the
// call's error.
func RequestID[T any](op *api.Operation[T], err error) (string, error) {
	if err != nil {
		return "", err
	}
	return op.ID, nil
}

// Submitted is --async's end: it prints the request's ID alone on stdout (for scripts) and returns the line to
// show on stderr, which says how to follow or cancel it.
func Submitted(s *IOStreams, verb, id string) string {
	fmt.Fprintln(s.Out, id)
	return fmt.Sprintf("Submitted %s request %s. Follow it with `stix api logs %s`, cancel it with `stix api cancel %s`.",
		verb, id, id, id)
}

// PrintEvent shows one event of a request followed from the server (`stix api logs`).
func PrintEvent(s *IOStreams, e api.Event) {
	switch e.Type {
	case api.EventStepFailed:
		fmt.Fprintln(s.Out, s.Paint(Red, failureSymbol+e.Msg+": "+e.Error))
	case api.EventHost:
		if e.Host != nil && e.Host.Error != "" {
			fmt.Fprintln(s.Out, s.Paint(Red, failureSymbol+e.Host.Pool+"/"+e.Host.Host+": "+e.Host.Error))
		} else if e.Host != nil {
			fmt.Fprintln(s.Out, s.Paint(Green, successSymbol+e.Host.Pool+"/"+e.Host.Host+" "+e.Host.Shape))
		}
	default:
		fmt.Fprintln(s.Out, stepSymbol+e.Msg)
	}
}

// RequestOutcome prints how a request ended and returns the command's error: nil for SUCCEEDED, exit 1 for
// FAILED, exit 130 for CANCELLED.
func RequestOutcome(s *IOStreams, q api.Request) error {
	switch q.Status {
	case api.RequestSucceeded:
		fmt.Fprintln(s.ErrOut, s.Paint(Green, fmt.Sprintf("%sRequest %s (%s) SUCCEEDED.", successSymbol, q.ID, q.Name)))
		return nil
	case api.RequestCancelled:
		fmt.Fprintf(s.ErrOut, "Request %s (%s) was CANCELLED.\n", q.ID, q.Name)
		return SilentExit(ExitCancelled)
	}
	msg := "no reason recorded"
	if q.Error != nil {
		msg = q.Error.Error()
	}
	return &ExitError{Code: ExitFailure, Err: fmt.Errorf("request %s (%s) FAILED: %s", q.ID, q.Name, msg)}
}
