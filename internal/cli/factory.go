// Package cli holds what every stix command shares: IOStreams, the Factory that injects dependencies,
// exit codes, and the table and JSON printers.
package cli

import (
	"time"

	"github.com/stix-run/stix/api"
)

// Factory carries the dependencies of every command. Commands take what they need from it lazily,
// so that `stix --help` pays for nothing.
type Factory struct {
	IOStreams *IOStreams
	// Version is the stix version string, set at build time.
	Version string
	// Now is the clock; tests replace it.
	Now func() time.Time
	// Getenv reads the environment; tests replace it.
	Getenv func(string) string
	// StixHome returns stix's state directory ($STIX_HOME, ~/.stix by default: store.DefaultHome); tests point
	// it at a temporary directory.
	StixHome func() (string, error)
	// Client returns the connection to stix's core (api.Client: the only way a command reaches it), made on
	// first use; commands that need none never call it.
	Client func() (api.Client, error)
	// ControllerClient returns the client of the verbs whose controller lives in an API server (`stix jobs`):
	// Client when an endpoint is configured, else the HTTP client of this machine's API server, started on
	// first use as SkyPilot's CLI starts its local server.
	ControllerClient func() (api.Client, error)
	// RequestsClient returns the client of `stix api status/logs/cancel`: Client when an endpoint is configured,
	// else the HTTP client of this machine's API server when one runs (the one `stix jobs` started: its requests
	// are there), else Client. It never starts a server. Use Requests, which falls back to Client when unset.
	RequestsClient func() (api.Client, error)
	// Server runs and finds the API server of this machine and the CLI's endpoint (`stix api`).
	Server ServerControl
}

// Requests returns RequestsClient, or Client when it is not set.
func (f *Factory) Requests() func() (api.Client, error) {
	if f.RequestsClient != nil {
		return f.RequestsClient
	}
	return f.Client
}
